'use strict';

// Two RTCPeerConnections in one page. Normally each would live in a different browser and a
// signaling server would carry the offer, the answer and the candidates between them; here we
// hand them over directly, so the handshake is all there is to see.

const startButton = document.querySelector('#start');
const hangupButton = document.querySelector('#hangup');
const offerView = document.querySelector('#offer-sdp');
const answerView = document.querySelector('#answer-sdp');
const candidateLog = document.querySelector('#candidates');

const sides = {
  A: side('a'),
  B: side('b'),
};

let connectionA;
let connectionB;

startButton.onclick = start;
hangupButton.onclick = hangUp;
sides.A.sendButton.onclick = () => sendData('A');
sides.B.sendButton.onclick = () => sendData('B');
sides.A.input.onkeydown = (event) => event.key === 'Enter' && sendData('A');
sides.B.input.onkeydown = (event) => event.key === 'Enter' && sendData('B');

function side(letter) {
  return {
    state: document.querySelector(`#state-${letter}`),
    input: document.querySelector(`#input-${letter}`),
    sendButton: document.querySelector(`#send-${letter}`),
    log: document.querySelector(`#log-${letter}`),
    channel: null,
  };
}

async function start() {
  startButton.disabled = true;
  hangupButton.disabled = false;
  clearHandshake();
  // No iceServers: both ends are on this machine, so host candidates are enough.
  connectionA = createConnection('A');
  connectionB = createConnection('B');
  connectionA.onicecandidate = (event) => onIceCandidate(connectionB, 'A', event);
  connectionB.onicecandidate = (event) => onIceCandidate(connectionA, 'B', event);

  // A creates the channel; B receives its other end. One channel carries both directions.
  setUpChannel('A', connectionA.createDataChannel('chat'));
  connectionB.ondatachannel = (event) => setUpChannel('B', event.channel);

  try {
    await negotiate();
  } catch (error) {
    appendLine(sides.A.log, `Negotiation failed: ${error.message}`, 'error');
  }
}

function createConnection(name) {
  const connection = new RTCPeerConnection({iceServers: []});
  connection.onconnectionstatechange = () => showState(name, connection.connectionState);
  return connection;
}

async function negotiate() {
  // setLocalDescription() with no argument creates the offer (or answer) and applies it.
  await connectionA.setLocalDescription();
  offerView.value = connectionA.localDescription.sdp;
  await connectionB.setRemoteDescription(connectionA.localDescription);

  await connectionB.setLocalDescription();
  answerView.value = connectionB.localDescription.sdp;
  await connectionA.setRemoteDescription(connectionB.localDescription);
}

// A's candidates go to B and B's to A. Candidates only start to arrive once
// setLocalDescription() has resolved, and by then the other side is already applying the
// description, which addIceCandidate() waits for.
async function onIceCandidate(otherConnection, name, event) {
  if (!event.candidate || !event.candidate.candidate) {
    appendLine(candidateLog, `${name}: gathering complete`, 'notice');
    return;
  }
  appendLine(candidateLog, `${name}: ${event.candidate.candidate}`);
  try {
    await otherConnection.addIceCandidate(event.candidate);
  } catch (error) {
    appendLine(candidateLog, `${name}: addIceCandidate failed: ${error.message}`, 'error');
  }
}

function setUpChannel(name, channel) {
  const {input, sendButton, log} = sides[name];
  sides[name].channel = channel;
  channel.onopen = () => {
    input.disabled = false;
    sendButton.disabled = false;
    appendLine(log, 'Data channel open', 'notice');
  };
  channel.onclose = () => {
    input.disabled = true;
    sendButton.disabled = true;
    appendLine(log, 'Data channel closed', 'notice');
  };
  channel.onmessage = (event) => appendLine(log, `received: ${event.data}`, 'received');
}

function sendData(name) {
  const {input, log, channel} = sides[name];
  if (!input.value.trim() || channel?.readyState !== 'open') {
    return;
  }
  try {
    channel.send(input.value);
  } catch (error) {
    // For example a message larger than the other side's a=max-message-size: say how much fits.
    const size = new TextEncoder().encode(input.value).length;
    const fits = (name === 'A' ? connectionA : connectionB).sctp?.maxMessageSize;
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
  sides.A.log.replaceChildren();
  sides.B.log.replaceChildren();
}

function showState(name, state) {
  sides[name].state.textContent = state;
  sides[name].state.dataset.state = state;
}

function hangUp() {
  connectionA.close();
  connectionB.close();
  // close() fires no connectionstatechange, so show the state ourselves.
  showState('A', 'closed');
  showState('B', 'closed');
  for (const {input, sendButton, channel} of Object.values(sides)) {
    channel?.close();
    input.disabled = true;
    sendButton.disabled = true;
  }
  hangupButton.disabled = true;
  startButton.disabled = false;
}
