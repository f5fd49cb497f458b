'use strict';

// Two browsers, one RTCPeerConnection between them. The signaling server (socket.io) carries the
// offer, the answer and the ICE candidates; once the connection is up, chat messages go peer to
// peer over the data channel and the server never sees them.

const joinForm = document.querySelector('#join-form');
const nameInput = document.querySelector('#name');
const roomInput = document.querySelector('#room');
const joinButton = document.querySelector('#join');
const leaveButton = document.querySelector('#leave');
const joinError = document.querySelector('#join-error');
const signalingState = document.querySelector('#signaling-state');
const peerLabel = document.querySelector('#peer-name');
const connectionState = document.querySelector('#connection-state');
const chatLog = document.querySelector('#log');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

let iceServers = [];
let peer = null; // {id, name} of the other member, once there is one
let connection = null;
let channel = null;
let offerer = false; // whether we made the offer (then we also restart ICE when needed)

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
  joinError.textContent = '';
  joinButton.disabled = true;
  try {
    const ack = await signaling.join(roomInput.value.trim(), nameInput.value);
    iceServers = ack.iceServers;
    showJoined(true);
    appendLine(chatLog, `You joined room ${roomInput.value.trim()} as ${nameInput.value.trim()}.`, 'notice');
    if (ack.peers.length > 0) {
      // We are the newcomer, so we know the other member is already here: we make the offer.
      await call(ack.peers[0]);
    } else {
      appendLine(chatLog, 'Waiting for someone to join this room…', 'notice');
    }
  } catch (error) {
    joinButton.disabled = false;
    joinError.textContent = explainJoinError(error);
  }
}

function explainJoinError(error) {
  switch (error.code) {
    case 'room-full':
      return 'This room is full: a step 2 room holds two people. Pick another room name.';
    case 'name-taken':
      return 'Someone in this room already uses that name. Pick another one.';
    default:
      return `Could not join: ${error.message}`;
  }
}

// The member who was already here waits for the newcomer's offer.
function onPeerJoined(newcomer) {
  if (isStillConnected(newcomer)) {
    peer.id = newcomer.id; // our peer rejoined after a signaling outage; the call went on
    return;
  }
  if (connection) {
    hangUp(); // a connection to someone who is gone
  }
  peer = newcomer;
  showBadge(peerLabel, newcomer.name);
  appendLine(chatLog, `${newcomer.name} joined; waiting for their offer.`, 'notice');
}

async function call(other) {
  peer = other;
  offerer = true;
  showBadge(peerLabel, other.name);
  connection = createConnection();
  setUpChannel(connection.createDataChannel('chat'));
  await connection.setLocalDescription();
  await sendSignal({description: connection.localDescription});
}

function createConnection() {
  const pc = new RTCPeerConnection(peerConfiguration(iceServers));
  pc.onicecandidate = ({candidate}) => candidate && sendSignal({candidate});
  pc.onconnectionstatechange = () => onConnectionStateChange(pc);
  pc.ondatachannel = (event) => setUpChannel(event.channel);
  superviseConnection(pc, {restart: () => restartIce(pc), giveUp: () => giveUp(pc)});
  watchStats(pc, statsPanels, 'Peer connection');
  showBadge(connectionState, pc.connectionState);
  return pc;
}

// Only the offerer restarts ICE, with a new offer; the other side answers it as usual.
async function restartIce(pc) {
  appendLine(chatLog, 'The connection is not coming up: restarting ICE…', 'notice');
  if (offerer) {
    pc.restartIce();
    await pc.setLocalDescription();
    await sendSignal({description: pc.localDescription});
  }
}

function giveUp(pc) {
  if (pc === connection) {
    appendLine(chatLog, `Could not connect to ${peer.name}, even after an ICE restart.`, 'error');
    hangUp();
  }
}

async function onSignal({from, data}) {
  if (!peer || from !== peer.id) {
    return; // not from the member we are talking to
  }
  try {
    if (data.description) {
      await onDescription(data.description);
    } else if (data.candidate) {
      await connection.addIceCandidate(data.candidate);
    }
  } catch (error) {
    appendLine(chatLog, `Signaling error: ${error.message}`, 'error');
  }
}

async function onDescription(description) {
  if (!connection) {
    offerer = false;
    connection = createConnection(); // an offer from the newcomer
  }
  await connection.setRemoteDescription(description);
  if (description.type === 'offer') {
    await connection.setLocalDescription(); // creates the answer
    await sendSignal({description: connection.localDescription});
  }
}

async function sendSignal(data) {
  try {
    await signaling.send(peer.id, data);
  } catch (error) {
    appendLine(chatLog, `Could not send a signal: ${error.message}`, 'error');
  }
}

function onConnectionStateChange(pc) {
  showBadge(connectionState, pc.connectionState);
  if (pc.connectionState === 'connected') {
    appendLine(chatLog, `Connected peer to peer with ${peer.name}.`, 'notice');
  }
}

function setUpChannel(newChannel) {
  channel = newChannel;
  // A closed channel from a previous peer must not disable the chat with the next one.
  newChannel.onopen = () => channel === newChannel && enableChat(true);
  newChannel.onclose = () => channel === newChannel && enableChat(false);
  newChannel.onmessage = (event) => appendLine(chatLog, `${peer.name}: ${event.data}`, 'received');
}

function sendMessage() {
  const text = messageInput.value;
  if (!text || channel?.readyState !== 'open') {
    return;
  }
  const tooLong = messageTooLong(text);
  if (tooLong) {
    appendLine(chatLog, tooLong, 'error');
    return;
  }
  channel.send(text);
  appendLine(chatLog, `You: ${text}`, 'sent');
  messageInput.value = '';
}

function onPeerLeft({id}) {
  if (!peer || id !== peer.id) {
    return;
  }
  appendLine(chatLog, `${peer.name} left. The next person to join will connect to you.`, 'notice');
  hangUp();
}

function isStillConnected(member) {
  return peer?.name === member.name && connection?.connectionState === 'connected';
}

function onSignalingLost() {
  showBadge(signalingState, signaling.reconnecting ? 'reconnecting' : 'disconnected');
  if (connection?.connectionState === 'connected') {
    appendLine(chatLog, 'Lost the signaling server; the chat goes on peer to peer.', 'notice');
  }
}

// We are a member again, under a new id. If our peer is back too, only its id changed.
function onRejoined(ack) {
  showBadge(signalingState, 'connected');
  appendLine(chatLog, 'Signaling is back: rejoined the room.', 'notice');
  const returning = ack.peers.find(isStillConnected);
  if (returning) {
    peer.id = returning.id;
  } else if (!connection && ack.peers.length > 0) {
    call(ack.peers[0]);
  }
}

function onRejoinFailed(error) {
  showJoined(false);
  joinError.textContent = `Could not rejoin the room: ${error.message}`;
}

async function leave() {
  hangUp();
  try {
    await signaling.leave();
  } finally {
    showJoined(false);
    appendLine(chatLog, 'You left the room.', 'notice');
  }
}

function hangUp() {
  channel?.close();
  connection?.close();
  channel = null;
  connection = null;
  peer = null;
  offerer = false;
  enableChat(false);
  showBadge(peerLabel, 'nobody yet');
  showBadge(connectionState, 'closed');
}

function showJoined(joined) {
  joinButton.disabled = joined;
  leaveButton.disabled = !joined;
  nameInput.disabled = joined;
  roomInput.disabled = joined;
}

function enableChat(enabled) {
  messageInput.disabled = !enabled;
  sendButton.disabled = !enabled;
  if (enabled) {
    messageInput.focus();
  }
}

function showBadge(badge, text) {
  badge.textContent = text;
  badge.dataset.state = text;
}
