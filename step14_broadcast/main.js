'use strict';

// Broadcast: one publisher, many viewers, and the server in the middle forwarding (step 6). What
// is new is the signaling: no socket.io, no rooms. Publishing is ONE HTTP request, WHIP
// (RFC 9725): POST our offer to /whip/<stream> with a token, and the 201 reply holds the
// server's answer and, in its Location header, the URL of our broadcast. DELETE on that URL ends
// it. This page is a WHIP client; watch.js is the WHEP client the viewers use.

// A larger picture than step 6's (320x240): a viewer decodes this one video only, whatever the
// number of viewers, and the server sends it on as it is.
const CAMERA = {width: {ideal: 640}, height: {ideal: 480}, frameRate: {ideal: 15, max: 15}};
const SCREEN = {video: {width: {max: 1280}, height: {max: 720}, frameRate: {max: 15}}};

const publishForm = document.querySelector('#publish-form');
const streamInput = document.querySelector('#stream');
const tokenInput = document.querySelector('#token');
const screenChoice = document.querySelector('#source-screen');
const publishButton = document.querySelector('#publish');
const stopButton = document.querySelector('#stop');
const publishError = document.querySelector('#publish-error');
const mediaError = document.querySelector('#media-error');
const micButton = document.querySelector('#mic-toggle');
const cameraButton = document.querySelector('#camera-toggle');
const serverState = document.querySelector('#server-state');
const viewerCount = document.querySelector('#viewer-count');
const watchLink = document.querySelector('#watch-link');
const eventLog = document.querySelector('#log');
const statsPanels = document.querySelector('#stats');

let localStream = new MediaStream();
let connection = null; // our one RTCPeerConnection, to the server
let sessionUrl = null; // where our broadcast lives on the server: DELETE ends it

// The token may come in the link's fragment (/#token=...), which the browser never sends to a
// server, so it stays out of logs and Referer headers.
tokenInput.value = new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '';
streamInput.value = new URLSearchParams(window.location.search).get('stream') || 'live';
publishForm.onsubmit = (event) => {
  event.preventDefault();
  publish().catch(onPublishFailed);
};
stopButton.onclick = () => stopPublishing('You stopped the broadcast.');
window.addEventListener('pagehide', () => stopPublishing()); // closing the tab ends it too
micButton.onclick = () => toggle('audio');
cameraButton.onclick = () => toggle('video');

async function publish() {
  publishError.textContent = '';
  mediaError.textContent = '';
  showPublishing(true);
  localStream = screenChoice.checked ? await openScreen() : await openLocalMedia(true);
  showSending();
  connection = createServerConnection();
  localStream.getTracks().forEach((track) => {
    connection.addTransceiver(track, {direction: 'sendonly', streams: [localStream]});
  });
  // Not part of WHIP: our server tells us on it how many watch. Other WHIP clients do without.
  setUpServerChannel(connection.createDataChannel('status'));
  await connection.setLocalDescription();
  // The server takes no trickled candidates: wait until ours are all in the offer's SDP.
  await iceGatheringComplete(connection);
  const stream = streamInput.value.trim();
  const {answer, location} = await postOffer(`/whip/${encodeURIComponent(stream)}`,
      connection.localDescription.sdp, tokenInput.value.trim());
  sessionUrl = location;
  await connection.setRemoteDescription({type: 'answer', sdp: answer});
  watchLink.href = `watch.html?stream=${encodeURIComponent(stream)}`;
  watchLink.textContent = new URL(watchLink.href, window.location.href).href;
  appendLine(eventLog, `You are live on stream ${stream}. Send the watch link to the viewers.`,
      'notice');
}

// Asks for the microphone and, if wanted, the camera. Whatever is refused, we publish anyway what
// we have.
async function openLocalMedia(wantCamera) {
  try {
    return await navigator.mediaDevices.getUserMedia({audio: true, video: wantCamera && CAMERA});
  } catch (error) {
    // Refused, or no such device: media.js tries the microphone alone, then the camera alone.
    const {stream, missing} = await openWhatRemains(wantCamera, CAMERA, error);
    mediaError.textContent = missing;
    return stream;
  }
}

// The screen (step 9's getDisplayMedia()) instead of the camera, with the microphone: a
// workshop's slides and the speaker's voice.
async function openScreen() {
  const screen = await navigator.mediaDevices.getDisplayMedia(SCREEN);
  // Text must stay sharp: when bandwidth is short, the encoder lowers the frame rate, not the size.
  screen.getVideoTracks().forEach((track) => {
    track.contentHint = 'detail';
    track.onended = () => stopPublishing('You stopped sharing: the broadcast ended.');
  });
  const microphone = await openLocalMedia(false);
  return new MediaStream([...screen.getVideoTracks(), ...microphone.getAudioTracks()]);
}

// The whole WHIP exchange: the offer as the body, the answer as the reply. Any status but 201
// is a refusal, and the server says why in the reply's text.
async function postOffer(url, offer, token) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'Content-Type': 'application/sdp', 'Authorization': `Bearer ${token}`},
    body: offer,
  });
  const text = await response.text();
  if (response.status !== 201) {
    throw new Error(`The server refused (${response.status}): ${text.trim()}`);
  }
  const location = response.headers.get('Location');
  if (!location) {
    throw new Error('The server answered 201 without a Location: it is not a WHIP server.');
  }
  // Location may be relative: it is relative to the URL we posted to.
  return {answer: text, location: new URL(location, response.url).href};
}

function onPublishFailed(error) {
  publishError.textContent = error.message;
  appendLine(eventLog, `Not published: ${error.message}`, 'error');
  stopPublishing(); // the server may have the broadcast already: it is told to end it
}

function createServerConnection() {
  // max-bundle: every m-line on one transport, so the candidates are gathered once. No ICE
  // servers: a page and the server on one network need none (a WHIP server can name some in
  // Link headers of its reply, for clients that connect across networks: see the README).
  const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  pc.onconnectionstatechange = () => onConnectionStateChange(pc);
  watchStats(pc, statsPanels, 'Connection to the server');
  showBadge(serverState, pc.connectionState);
  return pc;
}

function onConnectionStateChange(pc) {
  if (pc !== connection) {
    return; // a connection we ended
  }
  showBadge(serverState, pc.connectionState);
  if (pc.connectionState === 'failed') {
    appendLine(eventLog, 'The connection to the server failed: the broadcast stopped.', 'error');
    stopPublishing();
  }
}

function setUpServerChannel(channel) {
  channel.onmessage = (event) => onServerMessage(parseJson(event.data));
}

function onServerMessage(message) {
  if (message?.type === 'viewers') {
    viewerCount.textContent = message.count;
  }
}

// DELETE on our URL ends the broadcast for every viewer; the token proves it is ours.
function stopPublishing(notice = null) {
  if (sessionUrl) {
    if (notice) {
      appendLine(eventLog, notice, 'notice');
    }
    // keepalive: the request goes out even as the page closes.
    const headers = {Authorization: `Bearer ${tokenInput.value.trim()}`};
    fetch(sessionUrl, {method: 'DELETE', headers, keepalive: true})
        .catch(() => {}); // the server may be gone already; our side ends anyway
  }
  sessionUrl = null;
  connection?.close();
  connection = null;
  showBadge(serverState, 'none');
  viewerCount.textContent = 0;
  stopLocalMedia();
  showPublishing(false);
}

function showPublishing(on) {
  publishButton.disabled = on;
  stopButton.disabled = !on;
  streamInput.disabled = on;
  tokenInput.disabled = on;
  micButton.disabled = !on;
  cameraButton.disabled = !on;
}

// Our preview, its caption and the toggles: "Turn screen off" when the picture is a screen.
function showSending() {
  const live = localStream.getTracks().length > 0 ? localStream : null;
  showLocalMedia(live, {idle: 'not live', picture: screenChoice.checked ? 'screen' : 'camera'});
}

async function toggle(kind) {
  const track = localStream.getTracks().find((t) => t.kind === kind);
  if (track) {
    // Off keeps the track on the connection: it sends black frames (or silence) instead, so
    // back on is instant and needs no renegotiation.
    track.enabled = !track.enabled;
  } else {
    mediaError.textContent = `No ${kind === 'video' ? 'camera' : 'microphone'} was opened when ` +
      'you went live: stop, allow it, then go live again.';
  }
  showSending();
}

function stopLocalMedia() {
  // Stopping the tracks releases the camera and microphone: the camera's light goes off.
  localStream.getTracks().forEach((track) => track.stop());
  localStream = new MediaStream();
  showSending();
}
