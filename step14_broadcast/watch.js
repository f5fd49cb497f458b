'use strict';

// The viewer: a WHEP client. Watching is one HTTP request, as publishing is (main.js): POST a
// receive-only offer to /whep/<stream>, and the 201 reply holds the server's answer and, in its
// Location header, our session's URL, which DELETE ends. The server sends us the publisher's
// packets as they came: one video and one sound, whoever else watches.

const watchForm = document.querySelector('#watch-form');
const streamInput = document.querySelector('#stream');
const watchButton = document.querySelector('#watch');
const stopButton = document.querySelector('#stop');
const watchError = document.querySelector('#watch-error');
const serverState = document.querySelector('#server-state');
const broadcastState = document.querySelector('#broadcast-state');
const video = document.querySelector('#broadcast-video');
const unmuteButton = document.querySelector('#unmute');
const eventLog = document.querySelector('#log');
const statsPanels = document.querySelector('#stats');

let connection = null;
let sessionUrl = null;
let broadcast = new MediaStream(); // the publisher's video and sound, as the server sends them

streamInput.value = new URLSearchParams(window.location.search).get('stream') || 'live';
watchForm.onsubmit = (event) => {
  event.preventDefault();
  watch().catch(onWatchFailed);
};
stopButton.onclick = stopWatching;
// A closed tab says goodbye too, so that the publisher's count drops at once.
window.addEventListener('pagehide', stopWatching);
unmuteButton.onclick = () => {
  video.muted = false;
  unmuteButton.hidden = true;
};

async function watch() {
  watchError.textContent = '';
  showWatching(true);
  connection = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  connection.onconnectionstatechange = () => onConnectionStateChange(connection);
  connection.ontrack = ({track}) => broadcast.addTrack(track);
  watchStats(connection, statsPanels, 'Connection to the server');
  // We send nothing: two receive-only transceivers, one for the picture and one for the sound.
  connection.addTransceiver('video', {direction: 'recvonly'});
  connection.addTransceiver('audio', {direction: 'recvonly'});
  // Not part of WHEP: our server says on it when the broadcast starts and ends.
  const channel = connection.createDataChannel('status');
  channel.onmessage = (event) => onServerMessage(parseJson(event.data));
  await connection.setLocalDescription();
  await iceGatheringComplete(connection);
  const stream = streamInput.value.trim();
  const {answer, location} = await postOffer(`/whep/${encodeURIComponent(stream)}`,
      connection.localDescription.sdp);
  sessionUrl = location;
  await connection.setRemoteDescription({type: 'answer', sdp: answer});
  appendLine(eventLog, `Watching stream ${stream}.`, 'notice');
}

// The WHEP exchange is WHIP's (main.js's postOffer), without a token: anyone may watch.
async function postOffer(url, offer) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'Content-Type': 'application/sdp'},
    body: offer,
  });
  const text = await response.text();
  if (response.status !== 201) {
    throw new Error(`The server refused (${response.status}): ${text.trim()}`);
  }
  const location = response.headers.get('Location');
  if (!location) {
    throw new Error('The server answered 201 without a Location: it is not a WHEP server.');
  }
  return {answer: text, location: new URL(location, response.url).href};
}

// The tracks stay while we watch; the server fills them when a broadcast is live.
function onServerMessage(message) {
  if (message?.type !== 'broadcast') {
    return;
  }
  if (message.live) {
    broadcastState.textContent = 'Live';
    video.srcObject = broadcast;
    play();
    appendLine(eventLog, 'The broadcast is live.', 'notice');
  } else {
    const wasLive = video.srcObject !== null;
    broadcastState.textContent = wasLive ? 'The broadcast has ended.' :
      'Waiting for the broadcast to start…';
    video.srcObject = null;
    if (wasLive) {
      appendLine(eventLog, 'The broadcast has ended. Stay here: it shows again if it restarts.',
          'notice');
    }
  }
}

// The click on Watch lets the video play with sound; should the browser refuse, play muted.
function play() {
  video.play().catch((error) => {
    if (error.name === 'NotAllowedError') {
      video.muted = true;
      unmuteButton.hidden = false;
      video.play();
    }
  });
}

function onConnectionStateChange(pc) {
  if (pc !== connection) {
    return;
  }
  showBadge(serverState, pc.connectionState);
  if (pc.connectionState === 'failed') {
    appendLine(eventLog, 'The connection to the server failed.', 'error');
    stopWatching();
  }
}

function onWatchFailed(error) {
  watchError.textContent = error.message;
  appendLine(eventLog, `Not watching: ${error.message}`, 'error');
  stopWatching();
}

function stopWatching() {
  if (sessionUrl) {
    // keepalive: the request goes out even as the page closes.
    fetch(sessionUrl, {method: 'DELETE', keepalive: true}).catch(() => {}); // we end anyway
  }
  sessionUrl = null;
  connection?.close();
  connection = null;
  broadcast = new MediaStream();
  video.srcObject = null;
  broadcastState.textContent = 'Not watching';
  showBadge(serverState, 'none');
  showWatching(false);
}

function showWatching(on) {
  watchButton.disabled = on;
  stopButton.disabled = !on;
  streamInput.disabled = on;
}
