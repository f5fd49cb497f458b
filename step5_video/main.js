'use strict';

// A video call as a full mesh. As in step 4, this page holds one RTCPeerConnection to every
// other member; now each connection also carries our camera and microphone (getUserMedia, then
// addTrack) and brings theirs back (ontrack). A small data channel on each connection tells the
// other side whether our microphone and camera are on.
//
// Tracks can be added in the middle of a call (a camera turned on late), and each time the
// connection needs a new offer/answer round: renegotiation. Either side may start one at any
// moment, so two offers can cross. The "perfect negotiation" pattern handles both: each side
// offers whenever its connection fires negotiationneeded, and when two offers collide the
// polite side gives way to the impolite one.

// A small picture at a modest frame rate: every page encodes its camera once per other member and
// decodes one video per other member, so the size is paid n-1 times over (see the README).
const CAMERA = {width: {ideal: 320}, height: {ideal: 240}, frameRate: {ideal: 15, max: 15}};

const joinForm = document.querySelector('#join-form');
const nameInput = document.querySelector('#name');
const roomInput = document.querySelector('#room');
const cameraOnJoin = document.querySelector('#camera-on-join');
const joinButton = document.querySelector('#join');
const leaveButton = document.querySelector('#leave');
const joinError = document.querySelector('#join-error');
const mediaError = document.querySelector('#media-error');
const signalingState = document.querySelector('#signaling-state');
const micButton = document.querySelector('#mic-toggle');
const cameraButton = document.querySelector('#camera-toggle');
const tiles = document.querySelector('#tiles');
const tileTemplate = document.querySelector('#tile-template');
const localTile = document.querySelector('#local-tile');
const localVideo = document.querySelector('#local-video');
const localName = document.querySelector('#local-name');
const localStatus = document.querySelector('#local-status');
const eventLog = document.querySelector('#log');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// One entry per other member: {id, name, connection, channel, makingOffer, ignoreOffer,
// applyingAnswer, stream, tile, video, status, unmuteButton}.
const peers = new Map();
let iceServers = [];
let myId = null;
let joined = false;
let localStream = new MediaStream();
// Settles once localStream holds what getUserMedia gave us: connections wait for it.
let localMediaReady = Promise.resolve();

nameInput.value = randomName();
roomInput.value = roomFromUrl();
joinForm.onsubmit = (event) => {
  event.preventDefault();
  join();
};
leaveButton.onclick = leave;
micButton.onclick = () => toggle('audio', micButton);
cameraButton.onclick = () => toggle('video', cameraButton);

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
  mediaError.textContent = '';
  joinButton.disabled = true;
  joined = true; // someone joining at the same moment may be announced before our ack arrives
  // The camera and the server at the same time, not one after the other. No connection is made
  // before our media is known, so our tracks are in its first offer or answer.
  localMediaReady = openLocalMedia(cameraOnJoin.checked).then((stream) => {
    localStream = stream;
  });
  const [membership] = await Promise.allSettled([signaling.join(room, name), localMediaReady]);
  if (membership.status === 'rejected') {
    joined = false;
    stopLocalMedia(); // the camera opened for nothing: release it
    joinButton.disabled = false;
    joinError.textContent = explainJoinError(membership.reason);
    return;
  }
  const ack = membership.value;
  myId = ack.id;
  iceServers = ack.iceServers;
  showJoined(true);
  localName.textContent = `${name} (you)`;
  showLocalMedia();
  appendLine(eventLog, `You joined room ${room} as ${name}.`, 'notice');
  ack.peers.forEach(call);
}

function explainJoinError(error) {
  switch (error.code) {
    case 'room-full':
      return `This room is full (${error.message}). In a video mesh every page sends its ` +
        'video to every other page, so rooms are kept small. Pick another room name.';
    case 'name-taken':
      return 'Someone in this room already uses that name. Pick another one.';
    default:
      return `Could not join: ${error.message}`;
  }
}

// Asks for the microphone and, if wanted, the camera. Whatever is refused, we join anyway: a
// connection we add no tracks to still receives, so we can watch and listen.
async function openLocalMedia(wantCamera) {
  const attempts = wantCamera ?
    [{audio: true, video: CAMERA}, {audio: true}, {video: CAMERA}] :
    [{audio: true}];
  let firstError = null;
  for (const constraints of attempts) {
    try {
      const stream = await getUserMedia(constraints);
      if (firstError) {
        showMissingMedia(stream, wantCamera, firstError);
      }
      return stream;
    } catch (error) {
      firstError ??= error;
    }
  }
  showMissingMedia(new MediaStream(), wantCamera, firstError);
  return new MediaStream();
}

function getUserMedia(constraints) {
  if (!navigator.mediaDevices) {
    // Browsers only hand cameras to secure pages: https://, or http://localhost.
    return Promise.reject(new DOMException('not a secure page', 'InsecureContextError'));
  }
  return navigator.mediaDevices.getUserMedia(constraints);
}

function showMissingMedia(stream, wantCamera, error) {
  const noCamera = wantCamera && stream.getVideoTracks().length === 0;
  const noMic = stream.getAudioTracks().length === 0;
  const what = [noCamera && 'camera', noMic && 'microphone'].filter(Boolean).join(' and ');
  const seen = wantCamera && !noCamera;
  const consequence = noMic ?
    (seen ? 'the others cannot hear you' : 'the others can neither see nor hear you') :
    'the others can hear you but not see you';
  mediaError.textContent = `No ${what}: ${explainMediaError(error)}. You join anyway and ` +
    `see and hear the others, but ${consequence}.`;
}

function explainMediaError(error) {
  switch (error.name) {
    case 'NotAllowedError':
      return 'permission was refused (allow it in the site settings next to the address bar, ' +
        'then leave and join again)';
    case 'NotFoundError':
      return 'no such device was found';
    case 'NotReadableError':
      return 'the device is in use by another program';
    case 'InsecureContextError':
      return 'this page is not secure; cameras need https:// or http://localhost';
    default:
      return `${error.name}: ${error.message}`;
  }
}

// A member already here waits: the newcomer calls us.
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
  appendLine(eventLog, `${member.name} joined; they are calling you.`, 'notice');
}

// The newcomer's side. Creating the connection adds our tracks and the state channel, which
// fires negotiationneeded: negotiate() then sends the first offer.
function call(member) {
  const peer = addPeer(member);
  peer.connection = createConnection(peer);
  appendLine(eventLog, `Calling ${peer.name}.`, 'notice');
}

function addPeer(member) {
  if (peers.has(member.id)) {
    return peers.get(member.id); // announced twice when two people join at the same moment
  }
  const tile = tileTemplate.content.firstElementChild.cloneNode(true);
  const peer = {
    id: member.id,
    name: member.name,
    connection: null,
    channel: null,
    makingOffer: false,
    ignoreOffer: false,
    applyingAnswer: false,
    stream: new MediaStream(), // their tracks, as ontrack hands them to us
    tile,
    video: tile.querySelector('video'),
    status: tile.querySelector('.tile-status'),
    unmuteButton: tile.querySelector('.unmute'),
  };
  tile.dataset.peerName = member.name;
  tile.querySelector('.tile-name').textContent = member.name;
  peer.unmuteButton.onclick = () => unmute(peer);
  tiles.append(tile);
  peers.set(peer.id, peer);
  return peer;
}

function createConnection(peer) {
  // max-bundle: one transport for audio, video and data, so ICE and DTLS run once per peer.
  const pc = new RTCPeerConnection({...peerConfiguration(iceServers), bundlePolicy: 'max-bundle'});
  pc.onicecandidate = ({candidate}) => candidate && sendSignal(peer, {candidate});
  pc.onnegotiationneeded = () => negotiate(peer);
  pc.ontrack = ({track}) => showRemoteTrack(peer, track);
  pc.onconnectionstatechange = () => onConnectionStateChange(peer);
  localStream.getTracks().forEach((track) => pc.addTrack(track, localStream));
  // Both sides create this channel with the same id, so neither has to announce it to the other
  // (no ondatachannel): the code stays the same whoever calls whom.
  setUpChannel(peer, pc.createDataChannel('state', {negotiated: true, id: 0}));
  // With perfect negotiation either side may restart ICE: negotiationneeded makes the offer.
  superviseConnection(pc, {restart: () => restartIce(peer, pc), giveUp: () => giveUpOn(peer, pc)});
  watchStats(pc, statsPanels, peer.name);
  return pc;
}

function restartIce(peer, pc) {
  appendLine(eventLog, `The connection to ${peer.name} is not coming up: restarting ICE…`, 'notice');
  pc.restartIce();
}

// The tile stays, marked, and a new offer from them (after they rejoin, say) starts afresh.
function giveUpOn(peer, pc) {
  if (pc !== peer.connection) {
    return;
  }
  appendLine(eventLog, `Could not connect to ${peer.name}, even after an ICE restart.`, 'error');
  peer.status.textContent = 'connection failed';
  peer.channel?.close();
  pc.close();
  peer.connection = null;
}

// Perfect negotiation, part 1: whenever our connection needs a new round (a track or the channel
// was added), we offer. setLocalDescription() with no argument creates the offer.
async function negotiate(peer) {
  const pc = peer.connection;
  try {
    peer.makingOffer = true;
    await pc.setLocalDescription();
    appendLine(eventLog, `Sent an ${pc.localDescription.type} to ${peer.name}.`, 'notice');
    await sendSignal(peer, {description: pc.localDescription});
  } catch (error) {
    appendLine(eventLog, `Could not negotiate with ${peer.name}: ${error.message}`, 'error');
  } finally {
    peer.makingOffer = false;
  }
}

// Both sides compare the same two ids, so exactly one of them is polite.
function isPolite(peer) {
  return myId < peer.id;
}

// Signals from every member arrive on the one socket; `from` says which connection they are for.
async function onSignal({from, data}) {
  // A newcomer may call us while we are still opening our camera: answer with our tracks.
  await localMediaReady;
  const peer = peers.get(from);
  if (!peer) {
    return; // not a member of our room (any more)
  }
  try {
    peer.connection ??= createConnection(peer); // the newcomer's first offer
    if (data.description) {
      await onDescription(peer, data.description);
    } else if (data.candidate) {
      await onRemoteCandidate(peer, data.candidate);
    }
  } catch (error) {
    appendLine(eventLog, `Signaling error with ${peer.name}: ${error.message}`, 'error');
  }
}

// Perfect negotiation, part 2. An offer that arrives while we are making our own is a collision:
// the impolite side ignores it (its own offer wins); the polite side applies it, which rolls its
// own offer back, and answers. Its tracks are not lost: they ride in this answer, or the next
// negotiationneeded offers them again.
async function onDescription(peer, description) {
  const pc = peer.connection;
  // While an answer is being applied we are about to be stable again, so an offer is fine.
  const readyForOffer =
    !peer.makingOffer && (pc.signalingState === 'stable' || peer.applyingAnswer);
  const collision = description.type === 'offer' && !readyForOffer;
  peer.ignoreOffer = collision && !isPolite(peer);
  if (collision) {
    appendLine(eventLog, peer.ignoreOffer ?
      `Offer collision with ${peer.name}: we are impolite, so we ignore theirs.` :
      `Offer collision with ${peer.name}: we are polite, so we roll ours back and answer.`,
    'notice');
  }
  if (peer.ignoreOffer) {
    return;
  }
  peer.applyingAnswer = description.type === 'answer';
  try {
    await pc.setRemoteDescription(description);
  } finally {
    peer.applyingAnswer = false;
  }
  if (description.type === 'offer') {
    await pc.setLocalDescription(); // creates the answer
    appendLine(eventLog, `Answered ${peer.name}'s offer.`, 'notice');
    await sendSignal(peer, {description: pc.localDescription});
  }
}

async function onRemoteCandidate(peer, candidate) {
  try {
    await peer.connection.addIceCandidate(candidate);
  } catch (error) {
    if (!peer.ignoreOffer) {
      throw error; // candidates of an offer we ignored are expected to fail
    }
  }
}

async function sendSignal(peer, data) {
  try {
    await signaling.send(peer.id, data);
  } catch (error) {
    appendLine(eventLog, `Could not send a signal to ${peer.name}: ${error.message}`, 'error');
  }
}

function onConnectionStateChange(peer) {
  const state = peer.connection.connectionState;
  if (state === 'connected') {
    appendLine(eventLog, `Connected peer to peer with ${peer.name}.`, 'notice');
  } else if (state === 'failed') {
    peer.status.textContent = 'connection failed';
    appendLine(eventLog, `The connection to ${peer.name} failed.`, 'error');
  }
}

// ontrack fires once per track the other side sends, including one added by a renegotiation.
function showRemoteTrack(peer, track) {
  peer.stream.addTrack(track);
  // Setting srcObject again makes the element take up a track added after it started playing.
  peer.video.srcObject = peer.stream;
  playRemote(peer);
}

// Remote videos have sound, so the autoplay policy applies. Chrome lets them play because the
// user clicked Join on this page; should a browser refuse, we play muted and offer a button.
async function playRemote(peer) {
  try {
    await peer.video.play();
  } catch (error) {
    if (error.name !== 'NotAllowedError') {
      return; // AbortError: a newer srcObject replaced this one and plays instead
    }
    peer.video.muted = true;
    peer.unmuteButton.hidden = false;
    peer.video.play().catch(() => {});
  }
}

function unmute(peer) {
  peer.video.muted = false;
  peer.unmuteButton.hidden = true;
  peer.video.play().catch(() => {});
}

// The state channel: {mic, camera} whenever it opens and whenever we toggle something. Black
// frames or silence could also mean a dark, quiet room; this says what is really going on.
function setUpChannel(peer, channel) {
  peer.channel = channel;
  channel.onopen = () => channel.send(JSON.stringify(localState()));
  channel.onmessage = (event) => showRemoteState(peer, event.data);
}

function showRemoteState(peer, text) {
  let state;
  try {
    state = JSON.parse(text);
  } catch {
    return; // not a state message: ignore it
  }
  const mic = state?.mic === true;
  const camera = state?.camera === true;
  peer.tile.dataset.mic = mic ? 'on' : 'off';
  peer.tile.dataset.camera = camera ? 'on' : 'off';
  peer.status.textContent = describeState({mic, camera});
}

function sendStateToAll() {
  const message = JSON.stringify(localState());
  peers.forEach(({channel}) => channel?.readyState === 'open' && channel.send(message));
}

function localState() {
  const track = (kind) => localStream.getTracks().find((t) => t.kind === kind);
  return {mic: Boolean(track('audio')?.enabled), camera: Boolean(track('video')?.enabled)};
}

function describeState({mic, camera}) {
  return [!mic && 'muted', !camera && 'camera off'].filter(Boolean).join(' · ');
}

async function toggle(kind, button) {
  const track = localStream.getTracks().find((t) => t.kind === kind);
  button.disabled = true;
  if (track) {
    // Off keeps the track on every connection: it sends black frames (or silence) instead, so
    // back on is instant and needs no renegotiation. The camera stays open meanwhile.
    track.enabled = !track.enabled;
  } else {
    await addLocalTrack(kind);
  }
  button.disabled = !joined;
  showLocalMedia();
  sendStateToAll();
}

// A track we did not have yet (camera off when we joined, or refused then). Adding it to a
// connection that is already up fires negotiationneeded there: negotiate() sends a new offer,
// and the other side's ontrack fires when it applies it. That is renegotiation.
async function addLocalTrack(kind) {
  try {
    const stream = await getUserMedia({[kind]: kind === 'video' ? CAMERA : true});
    const [track] = stream.getTracks();
    if (!joined) {
      track.stop(); // we left while the browser was asking
      return;
    }
    localStream.addTrack(track);
    peers.forEach((peer) => peer.connection?.addTrack(track, localStream));
    mediaError.textContent = '';
  } catch (error) {
    const device = kind === 'video' ? 'Camera' : 'Microphone';
    mediaError.textContent = `${device} unavailable: ${explainMediaError(error)}.`;
  }
}

function showLocalMedia() {
  const state = localState();
  const preview = localStream.getVideoTracks().length > 0 ? localStream : null;
  if (localVideo.srcObject !== preview) {
    localVideo.srcObject = preview; // setting it again would restart the preview
  }
  localTile.dataset.mic = state.mic ? 'on' : 'off';
  localTile.dataset.camera = state.camera ? 'on' : 'off';
  localStatus.textContent = joined ? describeState(state) : 'not joined';
  micButton.textContent = state.mic ? 'Mute microphone' : 'Unmute microphone';
  micButton.setAttribute('aria-pressed', String(!state.mic));
  cameraButton.textContent = state.camera ? 'Turn camera off' : 'Turn camera on';
  cameraButton.setAttribute('aria-pressed', String(!state.camera));
}

function onPeerLeft({id}) {
  const peer = peers.get(id);
  if (!peer) {
    return;
  }
  appendLine(eventLog, `${peer.name} left.`, 'notice');
  removePeer(peer);
}

function removePeer(peer) {
  peer.channel?.close();
  peer.connection?.close();
  peer.tile.remove();
  peers.delete(peer.id);
}

async function leave() {
  hangUpAll();
  try {
    await signaling.leave();
  } finally {
    appendLine(eventLog, 'You left the room.', 'notice');
  }
}

// Calls that are up do not need the server: they go on while socket.io reconnects.
function onSignalingLost() {
  showBadge(signalingState, signaling.reconnecting ? 'reconnecting' : 'disconnected');
  if (joined && peers.size > 0) {
    appendLine(eventLog, 'Lost the signaling server; the calls go on peer to peer.', 'notice');
  }
}

// We are a member again, under a new id, and so is everyone who comes back. A member we are still
// connected to only changes id; anyone else we call, as a newcomer would.
function onRejoined(ack) {
  showBadge(signalingState, 'connected');
  myId = ack.id;
  appendLine(eventLog, 'Signaling is back: rejoined the room.', 'notice');
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
  appendLine(eventLog, `Could not rejoin the room: ${error.message}`, 'error');
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
  myId = null;
  peers.forEach(removePeer);
  stopLocalMedia();
  showJoined(false);
}

function stopLocalMedia() {
  // Stopping the tracks releases the camera and microphone: the camera's light goes off.
  localStream.getTracks().forEach((track) => track.stop());
  localStream = new MediaStream();
  localName.textContent = 'You';
  showLocalMedia();
}

function showJoined(isJoined) {
  joinButton.disabled = isJoined;
  leaveButton.disabled = !isJoined;
  nameInput.disabled = isJoined;
  roomInput.disabled = isJoined;
  cameraOnJoin.disabled = isJoined;
  micButton.disabled = !isJoined;
  cameraButton.disabled = !isJoined;
}

function showBadge(badge, text) {
  badge.textContent = text;
  badge.dataset.state = text;
}

// For the curious (and the tests), from the console: how much we have received from someone.
// getStats() lists an inbound-rtp report per track we receive.
async function receivedFrom(name, kind, field) {
  const peer = [...peers.values()].find((p) => p.name === name);
  if (!peer?.connection) {
    return 0;
  }
  let total = 0;
  (await peer.connection.getStats()).forEach((report) => {
    if (report.type === 'inbound-rtp' && report.kind === kind) {
      total += report[field] ?? 0;
    }
  });
  return total;
}

function framesDecodedFrom(name) {
  return receivedFrom(name, 'video', 'framesDecoded');
}

function audioPacketsFrom(name) {
  return receivedFrom(name, 'audio', 'packetsReceived');
}
