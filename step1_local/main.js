'use strict';

// The two ends of a call, A and B, in one page: each is an RTCPeerConnection. Normally each would
// live in a different browser and a signaling server would carry the offer, the answer and the
// candidates between them; here sendSignal() hands them straight to the other end, so the
// handshake is all there is to see.

const startButton = document.querySelector('#start');
const hangupButton = document.querySelector('#hangup');
const offerView = document.querySelector('#offer-sdp');
const answerView = document.querySelector('#answer-sdp');
const candidateLog = document.querySelector('#candidates');
const statsPanels = document.querySelector('#stats');

// Each end: {name, connection, channel, other, ...} and the elements of its pane.
const peers = {A: makePeer('A'), B: makePeer('B')};
peers.A.other = peers.B;
peers.B.other = peers.A;

startButton.onclick = start;
hangupButton.onclick = stop;
for (const peer of Object.values(peers)) {
  peer.sendButton.onclick = () => sendMessage(peer);
  peer.input.onkeydown = (event) => event.key === 'Enter' && sendMessage(peer);
}

function makePeer(name) {
  const pane = name.toLowerCase(); // A's pane holds #state-a, #input-a, #send-a and #log-a
  return {
    name,
    connection: null,
    channel: null,
    other: null,
    badge: document.querySelector(`#state-${pane}`),
    input: document.querySelector(`#input-${pane}`),
    sendButton: document.querySelector(`#send-${pane}`),
    log: document.querySelector(`#log-${pane}`),
  };
}

function start() {
  startButton.disabled = true;
  hangupButton.disabled = false;
  clearHandshake();
  call(peers.A); // A calls B; B makes its connection when A's offer arrives (onSignal)
}

function call(peer) {
  peer.connection ??= createConnection(peer); // its data channel fires negotiationneeded
}

function createConnection(peer) {
  // No iceServers: both ends are on this machine, so host candidates are enough.
  const pc = new RTCPeerConnection({iceServers: []});
  pc.onicecandidate = ({candidate}) => onLocalCandidate(peer, candidate);
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
    offerView.value = pc.localDescription.sdp;
    await sendSignal(peer, {description: pc.localDescription});
  } catch (error) {
    appendLine(peer.log, `Negotiation failed: ${error.message}`, 'error');
  }
}

// A signal for this end, from the other: a description or a candidate.
async function onSignal(peer, data) {
  peer.connection ??= createConnection(peer); // they called us: we answer their offer
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

async function onDescription(peer, description) {
  const pc = peer.connection;
  await pc.setRemoteDescription(description);
  if (description.type === 'offer') {
    await pc.setLocalDescription(); // creates the answer
    answerView.value = pc.localDescription.sdp;
    await sendSignal(peer, {description: pc.localDescription});
  }
}

// Each candidate this end finds goes to the other end, as the descriptions do. The last event has
// no candidate: this end has found them all.
function onLocalCandidate(peer, candidate) {
  if (!candidate?.candidate) {
    appendLine(candidateLog, `${peer.name}: gathering complete`, 'notice');
    return;
  }
  appendLine(candidateLog, `${peer.name}: ${candidate.candidate}`);
  sendSignal(peer, {candidate});
}

// A candidate may come while the description before it is still being applied:
// addIceCandidate() waits for that.
async function onCandidate(peer, candidate) {
  await peer.connection.addIceCandidate(candidate);
}

// This step's signaling: each signal goes straight to the other end's onSignal(), in this
// page. Step 2 sends it through a server instead.
async function sendSignal(from, data) {
  await onSignal(from.other, data);
}

function onConnectionStateChange(peer) {
  const state = peer.connection.connectionState;
  showBadge(peer.badge, state);
}

function setUpChannel(peer, channel) {
  peer.channel = channel;
  channel.onopen = () => {
    appendLine(peer.log, 'Data channel open', 'notice');
    updateChat(peer);
  };
  channel.onclose = () => {
    appendLine(peer.log, 'Data channel closed', 'notice');
    updateChat(peer);
  };
  channel.onmessage = (event) => receiveMessage(peer, event.data);
}

function receiveMessage(peer, text) {
  appendLine(peer.log, `received: ${text}`, 'received');
}

function sendMessage(peer) {
  const {input, log, channel} = peer;
  if (!input.value.trim() || channel?.readyState !== 'open') {
    return;
  }
  try {
    channel.send(input.value);
  } catch (error) {
    // For example a message larger than the other side's a=max-message-size: say how much fits.
    const size = new TextEncoder().encode(input.value).length;
    const fits = peer.connection.sctp?.maxMessageSize;
    appendLine(log, `Could not send ${size} bytes (at most ${fits} fit in one message): ` +
      error.message, 'error');
    return;
  }
  appendLine(log, `sent: ${input.value}`, 'sent');
  input.value = '';
}

function clearHandshake() {
  offerView.value = '';
  answerView.value = '';
  candidateLog.replaceChildren();
  peers.A.log.replaceChildren();
  peers.B.log.replaceChildren();
}

function hangUp(peer) {
  peer.channel?.close();
  peer.connection?.close();
  peer.channel = null;
  peer.connection = null;
  // close() fires no connectionstatechange, so show the state ourselves.
  showBadge(peer.badge, 'closed');
  updateChat(peer);
}

function stop() {
  Object.values(peers).forEach(hangUp);
  hangupButton.disabled = true;
  startButton.disabled = false;
}

function updateChat(peer) {
  const open = peer.channel?.readyState === 'open';
  peer.input.disabled = !open;
  peer.sendButton.disabled = !open;
}
