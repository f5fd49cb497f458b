'use strict';

// A group chat as a full mesh: this page holds one RTCPeerConnection, with one data channel, to
// every other member of the room. With n people in the room that is n-1 connections here and
// n(n-1)/2 in the whole room, and every message is sent n-1 times, once per channel.
//
// Who makes the offer? The newcomer, to every member already in the room (the `peers` of its
// join ack). Members who were already there only ever answer, so two members never send each
// other offers at the same time ("glare").

const joinForm = document.querySelector('#join-form');
const nameInput = document.querySelector('#name');
const roomInput = document.querySelector('#room');
const joinButton = document.querySelector('#join');
const leaveButton = document.querySelector('#leave');
const joinError = document.querySelector('#join-error');
const signalingState = document.querySelector('#signaling-state');
const connectionCount = document.querySelector('#connection-count');
const channelCount = document.querySelector('#channel-count');
const meshSummary = document.querySelector('#mesh-summary');
const memberList = document.querySelector('#members');
const chatLog = document.querySelector('#log');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// One entry per other member: {id, name, connection, channel, badge}.
const peers = new Map();
let iceServers = [];
let joined = false;

nameInput.value = randomName();
roomInput.value = roomFromUrl();
joinForm.onsubmit = (event) => {
  event.preventDefault();
  join();
};
leaveButton.onclick = leave;
sendForm.onsubmit = (event) => {
  event.preventDefault();
  sendMessage();
};

signaling.on('connect', () => showBadge(signalingState, 'connected'));
signaling.on('disconnect', onSignalingLost);
signaling.on('rejoined', onRejoined);
signaling.on('rejoin-failed', onRejoinFailed);
signaling.on('peer-joined', onPeerJoined);
signaling.on('peer-left', onPeerLeft);
signaling.on('signal', onSignal);

async function join() {
  const room = roomInput.value.trim();
  const name = nameInput.value.trim();
  joinError.textContent = '';
  joinButton.disabled = true;
  joined = true; // someone joining at the same moment may be announced before our ack arrives
  let ack;
  try {
    ack = await signaling.join(room, name);
  } catch (error) {
    joined = false;
    joinButton.disabled = false;
    joinError.textContent = explainJoinError(error);
    return;
  }
  iceServers = ack.iceServers;
  showJoined(true);
  appendLine(memberList, `${name} (you)`, 'self');
  appendLine(chatLog, `You joined room ${room} as ${name}.`, 'notice');
  if (ack.peers.length === 0) {
    appendLine(chatLog, 'You are the first one here. Whoever joins next will call you.', 'notice');
  } else {
    const names = ack.peers.map((member) => member.name).join(', ');
    appendLine(chatLog, `Calling the ${ack.peers.length} already here: ${names}.`, 'notice');
  }
  ack.peers.forEach(call);
  updateCounts();
}

function explainJoinError(error) {
  switch (error.code) {
    case 'room-full':
      return 'This room is full: everyone in a mesh connects to everyone else, so rooms are ' +
        `capped (${error.message}). Pick another room name.`;
    case 'name-taken':
      return 'Someone in this room already uses that name. Pick another one.';
    default:
      return `Could not join: ${error.message}`;
  }
}

// A member already here waits: the newcomer will send us an offer.
function onPeerJoined(member) {
  if (!joined) {
    return;
  }
  const known = peerNamed(member.name);
  if (known && isConnected(known)) {
    renamePeer(known, member.id); // back on signaling after an outage; the call went on
    return;
  }
  if (known) {
    removePeer(known); // a stale entry from before an outage
  }
  addPeer(member);
  appendLine(chatLog, `${member.name} joined; they are calling you.`, 'notice');
}

// The newcomer's side: one connection, one channel and one offer for each member already here.
async function call(member) {
  const peer = addPeer(member);
  peer.offerer = true;
  try {
    peer.connection = createConnection(peer);
    setUpChannel(peer, peer.connection.createDataChannel('chat'));
    await peer.connection.setLocalDescription();
    await sendSignal(peer, {description: peer.connection.localDescription});
  } catch (error) {
    appendLine(chatLog, `Could not call ${peer.name}: ${error.message}`, 'error');
  }
}

function addPeer(member) {
  if (peers.has(member.id)) {
    return peers.get(member.id); // announced twice when two people join at the same moment
  }
  const item = appendLine(memberList, `${member.name} `, 'member');
  const badge = document.createElement('span');
  badge.className = 'state';
  item.append(badge);
  const peer = {
    id: member.id, name: member.name, connection: null, channel: null, badge, offerer: false,
  };
  peers.set(peer.id, peer);
  showBadge(badge, 'waiting for an offer');
  updateCounts();
  return peer;
}

function createConnection(peer) {
  const pc = new RTCPeerConnection(peerConfiguration(iceServers));
  pc.onicecandidate = ({candidate}) => candidate && sendSignal(peer, {candidate});
  pc.onconnectionstatechange = () => onConnectionStateChange(peer);
  pc.ondatachannel = (event) => setUpChannel(peer, event.channel);
  superviseConnection(pc, {restart: () => restartIce(peer), giveUp: () => giveUpOn(peer)});
  watchStats(pc, statsPanels, peer.name);
  showBadge(peer.badge, pc.connectionState);
  return pc;
}

// Only the side that made the offer restarts ICE, with a new offer; the other side answers it.
async function restartIce(peer) {
  appendLine(chatLog, `The connection to ${peer.name} is not coming up: restarting ICE…`, 'notice');
  if (peer.offerer) {
    peer.connection.restartIce();
    await peer.connection.setLocalDescription();
    await sendSignal(peer, {description: peer.connection.localDescription});
  }
}

function giveUpOn(peer) {
  appendLine(chatLog, `Could not connect to ${peer.name}, even after an ICE restart.`, 'error');
  removePeer(peer);
}

// Signals from every member arrive on the one socket; `from` says which connection they are for.
async function onSignal({from, data}) {
  const peer = peers.get(from);
  if (!peer) {
    return; // not a member of our room (any more)
  }
  try {
    if (data.description) {
      await onDescription(peer, data.description);
    } else if (data.candidate) {
      await peer.connection.addIceCandidate(data.candidate);
    }
  } catch (error) {
    appendLine(chatLog, `Signaling error with ${peer.name}: ${error.message}`, 'error');
  }
}

async function onDescription(peer, description) {
  if (!peer.connection) {
    peer.connection = createConnection(peer); // the newcomer's offer
    updateCounts();
  }
  await peer.connection.setRemoteDescription(description);
  if (description.type === 'offer') {
    await peer.connection.setLocalDescription(); // creates the answer
    await sendSignal(peer, {description: peer.connection.localDescription});
  }
}

async function sendSignal(peer, data) {
  try {
    await signaling.send(peer.id, data);
  } catch (error) {
    appendLine(chatLog, `Could not send a signal to ${peer.name}: ${error.message}`, 'error');
  }
}

function onConnectionStateChange(peer) {
  const state = peer.connection.connectionState;
  showBadge(peer.badge, state);
  if (state === 'failed') {
    appendLine(chatLog, `The connection to ${peer.name} failed.`, 'error');
  }
}

function setUpChannel(peer, channel) {
  peer.channel = channel;
  channel.onopen = () => {
    appendLine(chatLog, `Data channel to ${peer.name} is open.`, 'notice');
    updateCounts();
  };
  channel.onclose = updateCounts;
  channel.onmessage = (event) => appendLine(chatLog, `${peer.name}: ${event.data}`, 'received');
}

function openChannels() {
  return [...peers.values()]
    .map((peer) => peer.channel)
    .filter((channel) => channel?.readyState === 'open');
}

// No server in the middle: the same text goes out once on every open channel.
function sendMessage() {
  const text = messageInput.value;
  const channels = openChannels();
  if (!text || channels.length === 0) {
    return;
  }
  const tooLong = messageTooLong(text);
  if (tooLong) {
    appendLine(chatLog, tooLong, 'error');
    return;
  }
  channels.forEach((channel) => channel.send(text));
  appendLine(chatLog, `You: ${text}`, 'sent');
  messageInput.value = '';
}

function onPeerLeft({id}) {
  const peer = peers.get(id);
  if (!peer) {
    return;
  }
  appendLine(chatLog, `${peer.name} left.`, 'notice');
  removePeer(peer);
}

function removePeer(peer) {
  peer.channel?.close();
  peer.connection?.close();
  peer.badge.parentElement.remove();
  peers.delete(peer.id);
  updateCounts();
}

async function leave() {
  hangUpAll();
  try {
    await signaling.leave();
  } finally {
    appendLine(chatLog, 'You left the room.', 'notice');
  }
}

// Peer connections that are up do not need the server: keep them while socket.io reconnects.
function onSignalingLost() {
  showBadge(signalingState, signaling.reconnecting ? 'reconnecting' : 'disconnected');
  if (joined && peers.size > 0) {
    appendLine(chatLog, 'Lost the signaling server; the chat goes on peer to peer.', 'notice');
  }
}

// We are a member again, under a new id, and so is everyone who comes back. A member we are still
// connected to only changes id; anyone else we call, as a newcomer would.
function onRejoined(ack) {
  showBadge(signalingState, 'connected');
  appendLine(chatLog, 'Signaling is back: rejoined the room.', 'notice');
  for (const member of ack.peers) {
    const known = peerNamed(member.name);
    if (known && isConnected(known)) {
      renamePeer(known, member.id);
      continue;
    }
    if (known) {
      removePeer(known);
    }
    call(member);
  }
}

function onRejoinFailed(error) {
  hangUpAll();
  appendLine(chatLog, `Could not rejoin the room: ${error.message}`, 'error');
}

function peerNamed(name) {
  return [...peers.values()].find((peer) => peer.name === name);
}

function isConnected(peer) {
  return peer.connection?.connectionState === 'connected';
}

function renamePeer(peer, id) {
  peers.delete(peer.id);
  peer.id = id;
  peers.set(id, peer);
}

function hangUpAll() {
  joined = false;
  peers.forEach(removePeer);
  memberList.replaceChildren();
  showJoined(false);
  updateCounts();
}

// The lesson in numbers: n-1 connections on this page, n(n-1)/2 in the room.
function updateCounts() {
  const held = [...peers.values()].filter((peer) => peer.connection).length;
  const open = openChannels().length;
  connectionCount.textContent = held;
  channelCount.textContent = open;
  const people = peers.size + 1;
  meshSummary.textContent = joined ?
    `${people} in the room: ${people - 1} connections per person, ` +
      `${(people * (people - 1)) / 2} in the whole mesh.` :
    'Join a room to see the mesh.';
  enableChat(open > 0);
}

function showJoined(isJoined) {
  joinButton.disabled = isJoined;
  leaveButton.disabled = !isJoined;
  nameInput.disabled = isJoined;
  roomInput.disabled = isJoined;
}

function enableChat(enabled) {
  const wasEnabled = !sendButton.disabled;
  messageInput.disabled = !enabled;
  sendButton.disabled = !enabled;
  if (enabled && !wasEnabled) {
    messageInput.focus();
  }
}

function showBadge(badge, text) {
  badge.textContent = text;
  badge.dataset.state = text;
}
