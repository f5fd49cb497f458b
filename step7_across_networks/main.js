'use strict';

// Step 1's call, split across two browsers: each page now holds one end, one RTCPeerConnection.
// What step 1 handed from one connection to the other by hand (the offer, the answer and the ICE
// candidates) now travels as 'signal' messages through a signaling server (socket.io, server.py):
// sendSignal() out, onSignal() in. Once the connection is up, chat messages go peer to peer over
// the data channel and the server never sees them. (Step 1's SDP and candidate boxes are gone: the
// signals show in the developer tools, Network → socket.io → Messages.)
//
// New in this step: the call across networks. The signaling server now hands out ICE servers:
// STUN, to learn the address a NAT gives us, and TURN, to relay when no direct path exists, with
// credentials of our own. Using them took no new code: step 2 already gave ack.iceServers to every
// RTCPeerConnection (createConnection(), through peerConfiguration(), which only adds the policy
// below). What is new is seeing what ICE does with them, and testing it: the page shows every
// candidate as ICE finds it and the pair it chose, and can allow relayed candidates only. A
// connection that finds no path gets an ICE restart, then is given up, with advice on what to
// check.

const chatLog = document.querySelector('#log');
const peerLabel = document.querySelector('#peer-name');
const connectionState = document.querySelector('#connection-state');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const statsPanels = document.querySelector('#stats');
const relayOnlyBox = document.querySelector('#relay-only');
const gatheringState = document.querySelector('#gathering-state');
const chosenPair = document.querySelector('#chosen-pair');
const candidateRows = document.querySelector('#candidates tbody');

// What each candidate type is, as the table explains it.
const CANDIDATE_TYPES = {
  host: 'an address of the machine itself',
  srflx: 'our address as a STUN server saw it: the public side of our NAT',
  prflx: 'learned from a connectivity check, not from a candidate',
  relay: 'an address on the TURN server, which relays for us',
};

const signaling = new Signaling();

// The other members of the room, by member id: {id, name, connection, channel, ...}. A step 2
// room holds two people, so there is at most one; later steps keep the same map with more.
const peers = new Map();
let iceServers = [];

setUpJoinForm(signaling, {join, leave, log: chatLog, roomFullHint: 'A call here is for two.'});
relayOnlyBox.checked = RELAY_ONLY; // ?relay=1 in the address ticks it (common/static/ice.js)
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
  showIceServers(iceServers);
  // We are the newcomer: only we know, right now, that there is someone to call.
  ack.peers.map(addPeer).forEach(call);
}

// The member who was here first waits for the newcomer's offer.
function onPeerJoined(member) {
  const peer = addPeer(member);
  appendLine(peer.log, `${peer.name} joined; waiting for their offer.`, 'notice');
}

// The TURN credentials are our own, made by the server from a secret only it and the TURN server
// know (common/ice.py). The username says until when they are valid: "<Unix time>:<member id>".
function showIceServers(servers) {
  if (servers.length === 0) {
    appendLine(chatLog, 'No STUN or TURN server: host candidates only (enough on one network).',
      'notice');
  }
  for (const server of servers) {
    const until = server.username ?
      `, credentials valid until ${expiryOf(server).toLocaleTimeString()}` : '';
    appendLine(chatLog, `ICE server: ${[server.urls].flat().join(', ')}${until}.`, 'notice');
  }
}

function addPeer({id, name}) {
  const peer = {id, name, connection: null, channel: null, caller: false, errors: new Set()};
  // Where this page shows what happens with this peer: one log and one badge, in this step.
  peer.log = chatLog;
  peer.badge = connectionState;
  peers.set(id, peer);
  showBadge(peerLabel, name);
  return peer;
}

function call(peer) {
  peer.caller = true;
  peer.connection ??= createConnection(peer); // its data channel fires negotiationneeded
}

function createConnection(peer) {
  // Step 2's configuration, with the box deciding the policy: 'relay' keeps only the TURN server's
  // candidates, and the call goes as it would between two networks that let nothing else through.
  const iceTransportPolicy = relayOnlyBox.checked ? 'relay' : 'all';
  const pc = new RTCPeerConnection({...peerConfiguration(iceServers), iceTransportPolicy});
  pc.onicecandidate = ({candidate}) => onLocalCandidate(peer, candidate);
  pc.onicecandidateerror = (event) => onCandidateError(peer, event);
  pc.onicegatheringstatechange = () => showBadge(gatheringState, pc.iceGatheringState);
  pc.onnegotiationneeded = () => negotiate(peer);
  pc.onconnectionstatechange = () => onConnectionStateChange(peer);
  // Both sides create the chat channel themselves, with the same id ("negotiated"), instead of
  // one side announcing it to the other: it is there as soon as the connection is.
  setUpChannel(peer, pc.createDataChannel('chat', {negotiated: true, id: 0}));
  // restart() once the connection fails, or is not up within 15 s (?iceTimeout=MS); then giveUp()
  // if even that did not bring it up (common/static/ice.js).
  superviseConnection(pc, {restart: () => restartIce(peer), giveUp: () => giveUp(peer)});
  watchStats(pc, statsPanels, peer.name); // its getStats(), live, in the stats panel
  showBadge(peer.badge, pc.connectionState);
  candidateRows.replaceChildren();
  showBadge(chosenPair, 'none yet');
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
  if (candidate.candidate) {
    showCandidate('theirs', new RTCIceCandidate(candidate));
  }
  if (peer.connection.connectionState === 'connected') {
    // ICE may have chosen a pair before this candidate arrived: getStats() then called its far
    // end prflx (learned from a connectivity check). Read it again for its real type.
    showChosenPair(peer);
  }
}

// Each of our candidates as ICE finds it, shown, then sent at once (trickle ICE). The last event
// has none: gathering is over. Firefox sends an empty candidate before it, passed on as in step 2.
function onLocalCandidate(peer, candidate) {
  if (candidate?.candidate) {
    showCandidate('ours', candidate);
  }
  if (candidate) {
    sendSignal(peer, {candidate});
  }
}

function showCandidate(side, {type, protocol, address, port, relayProtocol}) {
  const row = candidateRows.insertRow();
  row.dataset.side = side;
  row.dataset.type = type;
  row.dataset.endpoint = endpoint(address, port);
  const via = relayProtocol ? ` (we reach it over ${relayProtocol})` : '';
  for (const text of [side, type, `${protocol} ${address}:${port}`, CANDIDATE_TYPES[type] + via]) {
    row.insertCell().textContent = text;
  }
}

// A STUN or TURN server that did not answer, or refused us. Firefox tells it once per local
// address: once per server and code is enough.
function onCandidateError(peer, {url, errorCode, errorText}) {
  const key = `${url} ${errorCode}`;
  if (!peer.errors.has(key)) {
    peer.errors.add(key);
    const what = `${url} answered ${errorCode} ${errorText}`.trim();
    appendLine(peer.log, `${what}: ${candidateErrorAdvice(errorCode, iceServers)}`, 'error');
  }
}

// Of every pair ICE checked, the one it chose (getStats(), as the stats panel reads it).
async function showChosenPair(peer) {
  const report = await peer.connection.getStats();
  const pair = selectedPair(report);
  if (!pair) {
    return;
  }
  const local = report.get(pair.localCandidateId);
  const remote = report.get(pair.remoteCandidateId);
  for (const [side, candidate] of [['ours', local], ['theirs', remote]]) {
    const chosen = endpoint(candidate.address, candidate.port);
    for (const row of candidateRows.querySelectorAll(`tr[data-side=${side}]`)) {
      row.classList.toggle('chosen', row.dataset.endpoint === chosen);
    }
  }
  const types = `${local.candidateType} to ${remote.candidateType}`;
  if (chosenPair.textContent !== types) {
    showBadge(chosenPair, types);
    const ends = `${endpoint(local.address, local.port)} to ${endpoint(remote.address, remote.port)}`;
    appendLine(peer.log, `ICE chose ${local.candidateType} (ours) to ${remote.candidateType} ` +
      `(theirs): ${ends}.`, 'notice');
  }
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
    showChosenPair(peer);
    // ICE may still switch to a better pair: Chromium says so on the ICE transport, which a
    // connection with no audio or video reaches through its data channels' SCTP transport.
    const iceTransport = peer.connection.sctp?.transport.iceTransport;
    if (iceTransport) {
      iceTransport.onselectedcandidatepairchange = () => showChosenPair(peer);
    }
  }
}

// ICE restart: the same connection gathers candidates again and checks every pair afresh, with
// new ICE credentials. restartIce() fires negotiationneeded, so negotiate() sends the new offer,
// which the other side answers as usual. Only the caller restarts, so that the two sides' new
// offers never cross.
function restartIce(peer) {
  if (!peer.caller) {
    appendLine(peer.log, `No connection yet: waiting for ${peer.name} to restart ICE…`, 'notice');
    return;
  }
  appendLine(peer.log, `No connection to ${peer.name} yet: restarting ICE…`, 'notice');
  peer.connection.restartIce();
}

function giveUp(peer) {
  const what = `Could not connect to ${peer.name}, even after an ICE restart.`;
  const relayOnly = relayOnlyBox.checked ? 'the "Relayed candidates only" box' : '';
  appendLine(peer.log, `${what} ${iceFailureAdvice(iceServers, relayOnly)}`, 'error');
  hangUp(peer);
  showBadge(peer.badge, 'failed');
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
