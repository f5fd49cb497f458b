'use strict';

// A live list of everyone in the room, and a private chat with whoever you click. Each person you
// talk to gets one RTCPeerConnection and one data channel, made the first time either side needs
// it and then used in both directions. If two people click each other at the same moment, both
// make an offer: the "perfect negotiation" rule in onDescription() lets exactly one of them win.

const joinForm = document.querySelector('#join-form');
const nameInput = document.querySelector('#name');
const roomInput = document.querySelector('#room');
const joinButton = document.querySelector('#join');
const leaveButton = document.querySelector('#leave');
const joinError = document.querySelector('#join-error');
const signalingState = document.querySelector('#signaling-state');
const userList = document.querySelector('#users');
const usersHint = document.querySelector('#users-hint');
const chatArea = document.querySelector('#chats');
const chatHint = document.querySelector('#chat-hint');
const userTemplate = document.querySelector('#user-template');
const chatTemplate = document.querySelector('#chat-template');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

let iceServers = [];
let myId = null; // our member id, once joined
let openPeer = null; // the peer whose chat is on screen
const peers = new Map(); // member id -> peer, see createPeer()

nameInput.value = randomName();
roomInput.value = roomFromUrl();
joinForm.onsubmit = (event) => {
  event.preventDefault();
  join();
};
leaveButton.onclick = leave;

signaling.on('connect', () => showBadge(signalingState, 'connected'));
signaling.on('disconnect', onSignalingLost);
signaling.on('rejoined', onRejoined);
signaling.on('rejoin-failed', onRejoinFailed);
signaling.on('peer-joined', addPeer);
signaling.on('peer-left', onPeerLeft);
signaling.on('signal', onSignal);

async function join() {
  joinError.textContent = '';
  joinButton.disabled = true;
  try {
    const ack = await signaling.join(roomInput.value.trim(), nameInput.value);
    myId = ack.id;
    iceServers = ack.iceServers;
    showJoined(true);
    showMe(nameInput.value.trim());
    // Those already here come in the ack; everyone after us arrives as a 'peer-joined' event.
    ack.peers.forEach(addPeer);
    updateUsersHint();
  } catch (error) {
    joinButton.disabled = false;
    joinError.textContent = explainJoinError(error);
  }
}

function explainJoinError(error) {
  switch (error.code) {
    case 'room-full':
      return `This room is full (${error.message}). Pick another room name.`;
    case 'name-taken':
      return 'Someone in this room already uses that name. Pick another one.';
    default:
      return `Could not join: ${error.message}`;
  }
}

function showMe(name) {
  const item = document.createElement('li');
  item.id = 'me';
  item.className = 'self';
  const label = document.createElement('span');
  label.className = 'name';
  label.textContent = name;
  item.append(label, ' (you)');
  userList.prepend(item);
}

// Someone is in the room: a list entry, and a chat pane that stays hidden until it is opened.
// No connection yet: that waits until one of the two actually wants to talk.
function addPeer({id, name}) {
  if (peers.has(id)) {
    return; // someone joining as we join can be in our ack's peers *and* announced by peer-joined
  }
  const known = peerNamed(name);
  if (known) {
    renamePeer(known, id); // back on signaling after an outage, under a new id
    return;
  }
  const peer = createPeer(id, name);
  peers.set(id, peer);
  userList.append(peer.item);
  chatArea.append(peer.chat);
  updateUsersHint();
}

function createPeer(id, name) {
  const item = userTemplate.content.firstElementChild.cloneNode(true);
  const chat = chatTemplate.content.firstElementChild.cloneNode(true);
  const peer = {
    id,
    name,
    connection: null,
    channel: null,
    // Perfect negotiation state, see onDescription().
    makingOffer: false,
    ignoreOffer: false,
    settingRemoteAnswer: false,
    unread: 0,
    left: false,
    item,
    unreadBadge: item.querySelector('.unread'),
    chat,
    log: chat.querySelector('.log'),
    stateBadge: chat.querySelector('.connection-state'),
    messageInput: chat.querySelector('.message'),
    sendButton: chat.querySelector('.send'),
  };
  item.dataset.peerId = id;
  item.dataset.peerName = name;
  item.querySelector('.name').textContent = name;
  item.querySelector('button').onclick = () => openChat(peer);
  chat.dataset.peerId = id;
  chat.dataset.peerName = name;
  chat.querySelector('.title').textContent = `Chat with ${name}`;
  chat.querySelector('form').onsubmit = (event) => {
    event.preventDefault();
    sendMessage(peer);
  };
  return peer;
}

function openChat(peer) {
  closeChat();
  openPeer = peer;
  peer.item.setAttribute('aria-current', 'true');
  peer.chat.hidden = false;
  chatHint.hidden = true;
  peer.unread = 0;
  showUnread(peer);
  if (!peer.connection) {
    peer.connection = createConnection(peer); // we are first: our side will make the offer
  }
  peer.messageInput.focus();
}

function closeChat() {
  if (!openPeer) {
    return;
  }
  openPeer.item.removeAttribute('aria-current');
  openPeer.chat.hidden = true;
  if (openPeer.left) {
    openPeer.chat.remove(); // kept on screen after they left, until now
  }
  openPeer = null;
  chatHint.hidden = false;
}

// One connection per peer, whoever uses it first. The chat channel is "negotiated": both sides
// create it themselves with the same id instead of one side announcing it, so there is exactly
// one channel per pair whichever offer sets the connection up.
function createConnection(peer) {
  const pc = new RTCPeerConnection(peerConfiguration(iceServers));
  pc.onnegotiationneeded = () => makeOffer(peer, pc);
  pc.onicecandidate = ({candidate}) => candidate && sendSignal(peer, {candidate});
  pc.onconnectionstatechange = () => onConnectionStateChange(peer, pc);
  setUpChannel(peer, pc.createDataChannel('chat', {negotiated: true, id: 0}));
  // With perfect negotiation either side may restart ICE: negotiationneeded makes the offer.
  superviseConnection(pc, {restart: () => restartIce(peer, pc), giveUp: () => giveUpOn(peer, pc)});
  watchStats(pc, statsPanels, peer.name);
  showBadge(peer.stateBadge, pc.connectionState);
  return pc;
}

function restartIce(peer, pc) {
  appendLine(peer.log, 'The connection is not coming up: restarting ICE…', 'notice');
  pc.restartIce();
}

function giveUpOn(peer, pc) {
  if (pc === peer.connection) {
    appendLine(peer.log, `Could not connect to ${peer.name}, even after an ICE restart.`, 'error');
    hangUp(peer); // clicking the name again makes a new connection
  }
}

// Fired once the new connection has something to negotiate (the channel): make the offer.
async function makeOffer(peer, pc) {
  try {
    peer.makingOffer = true;
    await pc.setLocalDescription();
    await sendSignal(peer, {description: pc.localDescription});
  } catch (error) {
    appendLine(peer.log, `Could not make an offer: ${error.message}`, 'error');
  } finally {
    peer.makingOffer = false;
  }
}

async function onSignal({from, data}) {
  const peer = peers.get(from);
  if (!peer) {
    return; // not someone on our list
  }
  if (!peer.connection) {
    peer.connection = createConnection(peer); // they were first: we answer their offer
  }
  try {
    if (data.description) {
      await onDescription(peer, data.description);
    } else if (data.candidate) {
      await onCandidate(peer, data.candidate);
    }
  } catch (error) {
    appendLine(peer.log, `Signaling error: ${error.message}`, 'error');
  }
}

// Perfect negotiation (the pattern of the WebRTC specification). Both sides compare the same two
// member ids, so they agree on who is polite. When offers cross ("glare"), the impolite side
// ignores the offer it receives and keeps its own; the polite side drops its own offer
// (setRemoteDescription rolls it back) and answers. Either way one offer wins: one connection.
async function onDescription(peer, description) {
  const pc = peer.connection;
  const readyForOffer =
    !peer.makingOffer && (pc.signalingState === 'stable' || peer.settingRemoteAnswer);
  const offerCollision = description.type === 'offer' && !readyForOffer;
  peer.ignoreOffer = !isPolite(peer) && offerCollision;
  if (peer.ignoreOffer) {
    return;
  }
  peer.settingRemoteAnswer = description.type === 'answer';
  await pc.setRemoteDescription(description);
  peer.settingRemoteAnswer = false;
  if (description.type === 'offer') {
    await pc.setLocalDescription(); // creates the answer
    await sendSignal(peer, {description: pc.localDescription});
  }
}

function isPolite(peer) {
  return myId < peer.id;
}

async function onCandidate(peer, candidate) {
  // Read now: by the time addIceCandidate fails, the next description may have changed the flag.
  const fromIgnoredOffer = peer.ignoreOffer;
  try {
    await peer.connection.addIceCandidate(candidate);
  } catch (error) {
    if (!fromIgnoredOffer) {
      throw error; // candidates of an offer we ignored may fail; others must not
    }
  }
}

async function sendSignal(peer, data) {
  try {
    await signaling.send(peer.id, data);
  } catch (error) {
    appendLine(peer.log, `Could not send a signal: ${error.message}`, 'error');
  }
}

function onConnectionStateChange(peer, pc) {
  showBadge(peer.stateBadge, pc.connectionState);
  if (pc.connectionState === 'connected') {
    appendLine(peer.log, `Connected peer to peer with ${peer.name}.`, 'notice');
  }
}

function setUpChannel(peer, channel) {
  peer.channel = channel;
  channel.onopen = () => enableChat(peer, true);
  channel.onclose = () => enableChat(peer, false);
  channel.onmessage = (event) => receiveMessage(peer, event.data);
}

function receiveMessage(peer, text) {
  appendLine(peer.log, `${peer.name}: ${text}`, 'received');
  if (peer !== openPeer) {
    peer.unread += 1;
    showUnread(peer);
  }
}

function sendMessage(peer) {
  const text = peer.messageInput.value;
  if (!text || peer.channel?.readyState !== 'open') {
    return;
  }
  const tooLong = messageTooLong(text);
  if (tooLong) {
    appendLine(peer.log, tooLong, 'error');
    return;
  }
  peer.channel.send(text);
  appendLine(peer.log, `You: ${text}`, 'sent');
  peer.messageInput.value = '';
}

function onPeerLeft({id}) {
  const peer = peers.get(id);
  if (!peer) {
    return;
  }
  peers.delete(id);
  hangUp(peer);
  peer.left = true;
  peer.item.remove();
  appendLine(peer.log, `${peer.name} left.`, 'notice');
  if (peer !== openPeer) {
    peer.chat.remove(); // nobody is reading it; an open chat stays until you pick another
  }
  updateUsersHint();
}

function hangUp(peer) {
  peer.channel?.close();
  peer.connection?.close();
  peer.channel = null;
  peer.connection = null;
  enableChat(peer, false);
  showBadge(peer.stateBadge, 'closed');
}

async function leave() {
  forgetRoom('You left the room.');
  try {
    await signaling.leave();
  } finally {
    showJoined(false);
  }
}

// Peer connections that are up do not need the server: chats go on while socket.io reconnects.
function onSignalingLost() {
  showBadge(signalingState, signaling.reconnecting ? 'reconnecting' : 'disconnected');
}

// We are a member again, under a new id, and so is everyone who comes back. The list is rebuilt
// from the ack: people we know only change ids (names are unique in a room); people who left
// meanwhile go, unless we are still connected to them and they may still come back.
function onRejoined(ack) {
  showBadge(signalingState, 'connected');
  myId = ack.id;
  const present = new Set(ack.peers.map((member) => member.name));
  for (const peer of [...peers.values()]) {
    if (!present.has(peer.name) && peer.connection?.connectionState !== 'connected') {
      onPeerLeft({id: peer.id});
    }
  }
  ack.peers.forEach(addPeer);
}

function onRejoinFailed(error) {
  forgetRoom(`Could not rejoin the room: ${error.message}. Join again.`);
  showJoined(false);
}

function peerNamed(name) {
  return [...peers.values()].find((peer) => peer.name === name);
}

function renamePeer(peer, id) {
  peers.delete(peer.id);
  peer.id = id;
  peer.item.dataset.peerId = id;
  peer.chat.dataset.peerId = id;
  peers.set(id, peer);
}

function forgetRoom(reason) {
  closeChat();
  for (const peer of peers.values()) {
    hangUp(peer);
    peer.chat.remove();
  }
  peers.clear();
  myId = null;
  userList.replaceChildren();
  usersHint.hidden = false;
  usersHint.textContent = reason;
}

function updateUsersHint() {
  usersHint.hidden = peers.size > 0;
  usersHint.textContent = 'Nobody else is here yet: open this page in another tab.';
}

function showUnread(peer) {
  peer.unreadBadge.textContent = peer.unread;
  peer.unreadBadge.hidden = peer.unread === 0;
  peer.unreadBadge.title = `${peer.unread} unread`;
}

function showJoined(joined) {
  joinButton.disabled = joined;
  leaveButton.disabled = !joined;
  nameInput.disabled = joined;
  roomInput.disabled = joined;
}

function enableChat(peer, enabled) {
  peer.messageInput.disabled = !enabled;
  peer.sendButton.disabled = !enabled;
  if (enabled && peer === openPeer) {
    peer.messageInput.focus();
  }
}

function showBadge(badge, text) {
  badge.textContent = text;
  badge.dataset.state = text;
}
