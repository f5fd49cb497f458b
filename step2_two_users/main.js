'use strict';

// Step 1's call, split across two browsers: each page now holds one end, one RTCPeerConnection.
// What step 1 handed from one connection to the other by hand (the offer, the answer and the ICE
// candidates) now travels as 'signal' messages through a signaling server (socket.io, server.py):
// sendSignal() out, onSignal() in. Once the connection is up, chat messages go peer to peer over
// the data channel and the server never sees them. (Step 1's SDP and candidate boxes are gone: the
// signals show in the developer tools, Network → socket.io → Messages.)

const chatLog = document.querySelector('#log');
const peerLabel = document.querySelector('#peer-name');
const connectionState = document.querySelector('#connection-state');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// The other members of the room, by member id: {id, name, connection, channel, ...}. A step 2
// room holds two people, so there is at most one; later steps keep the same map with more.
const peers = new Map();
let iceServers = [];

setUpJoinForm(signaling, {join, leave, log: chatLog, roomFullHint: 'A call here is for two.'});
sendForm.onsubmit = (event) => {
  event.preventDefault();
  sendMessage();
};

signaling.on('peer-joined', onPeerJoined);
signaling.on('peer-left', onPeerLeft);
signaling.on('signal', onSignal);
// After a server restart the page rejoins by itself (common/static/signaling.js). Anyone who
// came in meanwhile is in this ack's peers, as in our first one.
signaling.on('rejoined', onJoined);

async function join(room, name) {
  const ack = await signaling.join(room, name);
  appendLine(chatLog, `You joined room ${room} as ${name}.`, 'notice');
  if (ack.peers.length === 0) {
    appendLine(chatLog, 'Waiting for someone to join this room…', 'notice');
  }
  onJoined(ack);
}

// The ack lists the members already here, and the ICE servers to use (none on a LAN).
function onJoined(ack) {
  iceServers = ack.iceServers;
  // We are the newcomer: only we know, right now, that there is someone to call.
  ack.peers.map(addPeer).forEach(call);
}

// The member who was here first waits for the newcomer's offer.
function onPeerJoined(member) {
  const peer = addPeer(member);
  appendLine(peer.log, `${peer.name} joined; waiting for their offer.`, 'notice');
}

function addPeer({id, name}) {
  const peer = {id, name, connection: null, channel: null};
  // Where this page shows what happens with this peer: one log and one badge, in this step.
  peer.log = chatLog;
  peer.badge = connectionState;
  peers.set(id, peer);
  showBadge(peerLabel, name);
  return peer;
}

function call(peer) {
  peer.connection ??= createConnection(peer); // its data channel fires negotiationneeded
}

function createConnection(peer) {
  const pc = new RTCPeerConnection(peerConfiguration(iceServers));
  // The last event has no candidate (null): gathering is over, and there is nothing to send.
  pc.onicecandidate = ({candidate}) => candidate && sendSignal(peer, {candidate});
  pc.onnegotiationneeded = () => negotiate(peer);
  pc.onconnectionstatechange = () => onConnectionStateChange(peer);
  // Both sides create the chat channel themselves, with the same id ("negotiated"), instead of
  // one side announcing it to the other: it is there as soon as the connection is.
  setUpChannel(peer, pc.createDataChannel('chat', {negotiated: true, id: 0}));
  watchStats(pc, statsPanels, peer.name); // its getStats(), live, in the stats panel
  showBadge(peer.badge, pc.connectionState);
  return pc;
}

// Fired when the connection has something new to agree on: here, the data channel. With no
// argument, setLocalDescription() creates the offer and applies it.
async function negotiate(peer) {
  const pc = peer.connection;
  try {
    await pc.setLocalDescription();
    appendLine(peer.log, `Sent an offer to ${peer.name}.`, 'notice');
    await sendSignal(peer, {description: pc.localDescription});
  } catch (error) {
    appendLine(peer.log, `Could not make an offer to ${peer.name}: ${error.message}`, 'error');
  }
}

// Signals arrive on the one socket; `from` says which peer they come from.
async function onSignal({from, data}) {
  const peer = peers.get(from);
  if (!peer || (!peer.connection && data.description?.type !== 'offer')) {
    return; // not a member of our room (any more), or late news of a connection we closed
  }
  peer.connection ??= createConnection(peer); // they called us: we answer their offer
  try {
    if (data.description) {
      await onDescription(peer, data.description);
    } else if (data.candidate) {
      await onCandidate(peer, data.candidate);
    }
  } catch (error) {
    appendLine(peer.log, `Signaling error with ${peer.name}: ${error.message}`, 'error');
  }
}

async function onDescription(peer, description) {
  const pc = peer.connection;
  await pc.setRemoteDescription(description);
  if (description.type === 'offer') {
    await pc.setLocalDescription(); // creates the answer
    appendLine(peer.log, `Answered ${peer.name}'s offer.`, 'notice');
    await sendSignal(peer, {description: pc.localDescription});
  }
}

// A candidate may come while the description before it is still being applied:
// addIceCandidate() waits for that.
async function onCandidate(peer, candidate) {
  await peer.connection.addIceCandidate(candidate);
}

async function sendSignal(peer, data) {
  try {
    await signaling.send(peer.id, data);
  } catch (error) {
    appendLine(peer.log, `Could not send a signal to ${peer.name}: ${error.message}`, 'error');
  }
}

function onConnectionStateChange(peer) {
  const state = peer.connection.connectionState;
  showBadge(peer.badge, state);
  if (state === 'connected') {
    appendLine(peer.log, `Connected peer to peer with ${peer.name}.`, 'notice');
  }
}

function setUpChannel(peer, channel) {
  peer.channel = channel;
  channel.onopen = () => {
    appendLine(peer.log, `Data channel to ${peer.name} is open.`, 'notice');
    updateChat();
  };
  channel.onclose = updateChat;
  channel.onmessage = (event) => receiveMessage(peer, event.data);
}

function receiveMessage(peer, text) {
  appendLine(peer.log, `${peer.name}: ${text}`, 'received');
}

// The text goes out on the channel to our peer: peer to peer, no server in between.
function sendMessage() {
  const text = messageToSend(messageInput, chatLog); // null if blank or too long for a message
  const [peer] = peers.values(); // a room of two: the other one, if there is one
  if (!text || peer?.channel?.readyState !== 'open') {
    return;
  }
  peer.channel.send(text);
  appendLine(chatLog, `You: ${text}`, 'sent');
  messageInput.value = '';
}

function onPeerLeft({id}) {
  const peer = peers.get(id);
  if (peer) {
    appendLine(peer.log, `${peer.name} left.`, 'notice');
    removePeer(peer);
  }
}

function removePeer(peer) {
  hangUp(peer);
  peers.delete(peer.id);
  showBadge(peerLabel, 'nobody yet');
}

function hangUp(peer) {
  peer.channel?.close();
  peer.connection?.close();
  peer.channel = null;
  peer.connection = null;
  // close() fires no connectionstatechange, so show the state ourselves.
  showBadge(peer.badge, 'closed');
  updateChat();
}

function leave() {
  peers.forEach(removePeer);
  signaling.leave(); // the others get peer-left
}

function updateChat() {
  const [peer] = peers.values();
  const open = peer?.channel?.readyState === 'open';
  messageInput.disabled = !open;
  sendButton.disabled = !open;
}
