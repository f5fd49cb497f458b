'use strict';

// The server combines. Step 6's server forwarded every member's video to every page, so a page
// received one video per other member. This page still holds ONE RTCPeerConnection, to the
// server, but receives ONE video and ONE sound whatever the size of the room:
//   - the server decodes everyone's camera, draws one picture of the room (a grid with names, a
//     watermark, an effect) and encodes it once: the same picture goes to every page;
//   - it mixes everyone's microphone, minus each member's own voice, so we never hear ourselves.
// Our camera and microphone go up on the same two transceivers the mix comes down on.

// A small picture at a modest frame rate: the server decodes every member's camera.
const CAMERA = {width: {ideal: 320}, height: {ideal: 240}, frameRate: {ideal: 15, max: 15}};

const chatLog = document.querySelector('#log');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const cameraOnJoin = document.querySelector('#camera-on-join');
const mediaError = document.querySelector('#media-error');
const micButton = document.querySelector('#mic-toggle');
const cameraButton = document.querySelector('#camera-toggle');
const edgesBox = document.querySelector('#edges');
const serverState = document.querySelector('#server-state');
const roomVideo = document.querySelector('#room-video');
const unmuteButton = document.querySelector('#unmute');
const localName = document.querySelector('#local-name');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// The other members of the room, by member id: {id, name}. No tile of their own: they are in the
// server's picture. Their names are for the log.
const peers = new Map();
let iceServers = [];
let localStream = new MediaStream();
let connection = null; // our one RTCPeerConnection, to the server
let ourSenders = {}; // on it, our sender for 'audio' and for 'video'
let channel = null;
// Our channel opens on our side before the server listens on it, so chat waits for the server's
// 'ready' message, not for the channel's open event.
let chatReady = false;

const roomFullHint = 'The server decodes every camera in the room, so rooms are capped.';
setUpJoinForm(signaling, {join, leave, log: chatLog, roomFullHint});
sendForm.onsubmit = (event) => {
  event.preventDefault();
  sendMessage();
};
micButton.onclick = () => toggle('audio');
cameraButton.onclick = () => toggle('video');
edgesBox.onchange = () => sendEffect(edgesBox.checked ? 'edges' : 'none');

signaling.on('peer-joined', onPeerJoined);
signaling.on('peer-left', onPeerLeft);
// After a server restart the page rejoins by itself (common/static/signaling.js). The server
// peer restarted too: onJoined() connects to it again.
signaling.on('rejoined', onJoined);

async function join(room, name) {
  mediaError.textContent = '';
  // Our camera first, then the room: the connection is made once our media is known, so the tracks
  // we have go in its one offer (one we open later goes in with replaceTrack()).
  localStream = await openLocalMedia(cameraOnJoin.checked);
  let ack;
  try {
    ack = await signaling.join(room, name);
  } catch (error) {
    stopLocalMedia(); // the camera opened for nothing: release it
    throw error;
  }
  localName.textContent = `${name} (you)`;
  showLocalMedia(localStream);
  const alone = ack.peers.length === 0 ? ' You are the first one here.' : '';
  appendLine(chatLog, `You joined room ${room} as ${name}.${alone}`, 'notice');
  onJoined(ack);
}

// The ack lists the members already here, and the ICE servers to use (none on a LAN).
function onJoined(ack) {
  iceServers = ack.iceServers;
  if (ack.peers.length > 0) {
    const names = ack.peers.map((member) => member.name).join(', ');
    appendLine(chatLog, `Already here: ${names}.`, 'notice');
  }
  ack.peers.forEach((member) => peers.set(member.id, member));
  connectToServer().catch((error) => {
    appendLine(chatLog, `Could not connect to the server: ${error.message}`, 'error');
  });
}

// Their picture and voice reach us in the server's mix: a line in the log is all a page does.
function onPeerJoined(member) {
  peers.set(member.id, member);
  appendLine(chatLog, `${member.name} joined.`, 'notice');
}

// Asks for the microphone and, if wanted, the camera. Whatever is refused, we join anyway: a
// connection we add no tracks to still receives, so we can watch and listen.
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

// The whole handshake, once: one video and one audio transceiver, each sending ours (if we have
// it) and receiving the room's, and the channel, in one offer. No slots: the server sends one
// picture and one sound, whoever comes and goes.
async function connectToServer() {
  connection?.close(); // one from before a server restart, which the server has forgotten
  roomVideo.srcObject = null; // and the tracks it brought
  const pc = createServerConnection();
  connection = pc;
  for (const kind of ['video', 'audio']) {
    // Without a camera (or microphone) the transceiver still receives the room's, and
    // addLocalTrack() puts a track in later.
    const track = localStream.getTracks().find((t) => t.kind === kind);
    const options = {direction: 'sendrecv', streams: [localStream]};
    ourSenders[kind] = pc.addTransceiver(track ?? kind, options).sender;
  }
  setUpServerChannel(pc.createDataChannel('chat'));
  await offerToServer(pc);
}

// Not step 5's 'signal' relay to another member: the offer goes to the server itself, as a
// request, and its answer comes back as the acknowledgement. No trickle ICE, unlike steps 2 to 5:
// aiortc takes no candidates after the offer, so the offer waits until ours are all in its SDP
// (iceGatheringComplete(), common/static/ice.js).
async function offerToServer(pc) {
  await pc.setLocalDescription();
  await iceGatheringComplete(pc);
  const answer = await signaling.request('offer', {description: pc.localDescription});
  await pc.setRemoteDescription(answer.description);
}

function createServerConnection() {
  // max-bundle: every m-line on one transport, so the candidates are gathered once. A connection
  // to the server that fails is reported (onConnectionStateChange); joining again makes a new one.
  const pc = new RTCPeerConnection({...peerConfiguration(iceServers), bundlePolicy: 'max-bundle'});
  pc.onconnectionstatechange = () => onConnectionStateChange(pc);
  pc.ontrack = showRoom;
  watchStats(pc, statsPanels, 'Connection to the server');
  showBadge(serverState, pc.connectionState);
  return pc;
}

// The room's picture and sound, as the server made them: both play in the one video element.
// ontrack fires once for each; the second play() interrupts the first (an AbortError).
function showRoom({track}) {
  const stream = roomVideo.srcObject ?? new MediaStream();
  stream.addTrack(track);
  // Setting srcObject again makes the element take up a track added after it started playing.
  roomVideo.srcObject = stream;
  playWithSound(roomVideo, unmuteButton); // common/static/media.js
}

function onConnectionStateChange(pc) {
  if (pc !== connection) {
    return; // a connection from before a server restart
  }
  showBadge(serverState, pc.connectionState);
  if (pc.connectionState === 'failed') {
    const advice = iceFailureAdvice(iceServers);
    appendLine(chatLog, `The connection to the server failed. ${advice}`, 'error');
  }
}

function setUpServerChannel(newChannel) {
  channel = newChannel;
  chatReady = false;
  channel.onclose = updateChat;
  channel.onmessage = (event) => onServerMessage(parseJson(event.data));
}

// Everything on the channel comes from the server, which names who said what.
function onServerMessage(message) {
  if (message?.type === 'ready') {
    // Our channel is open on both ends: from now on we hear every message.
    chatReady = true;
    appendLine(chatLog, 'Connected to the server: it draws the room and mixes its sound.', 'notice');
    sendState();
    updateChat();
  } else if (message?.type === 'chat') {
    receiveMessage(message.from, message.text);
  } else if (message?.type === 'effect') {
    showEffect(message.effect, message.from);
  } else if (message?.type === 'error') {
    appendLine(chatLog, `The server says: ${message.message}`, 'error');
  }
  // 'state' messages need nothing here: the server writes "muted" into that member's caption.
}

// `from` is {id, name}, as the server stamped it.
function receiveMessage(from, text) {
  appendLine(chatLog, `${from.name}: ${text}`, 'received');
}

// One send, whatever the size of the room: the server does the fan-out.
function sendMessage() {
  const text = messageToSend(messageInput, chatLog); // null if blank or too long for a message
  if (!text || !chatReady || channel?.readyState !== 'open') {
    return;
  }
  channel.send(JSON.stringify({type: 'chat', text}));
  appendLine(chatLog, `You: ${text}`, 'sent');
  messageInput.value = '';
}

function onPeerLeft({id}) {
  const peer = peers.get(id);
  if (peer) {
    appendLine(chatLog, `${peer.name} left.`, 'notice');
    peers.delete(id);
  }
}

// The effect is the room's, not ours: the server changes the one picture everyone receives, and
// tells every page, so each checkbox follows whoever changed it last.
function sendEffect(effect) {
  if (chatReady && channel?.readyState === 'open') {
    channel.send(JSON.stringify({type: 'effect', effect}));
    appendLine(chatLog, `You turned edge detection ${onOff(effect)}.`, 'notice');
  }
}

// `from` is who changed it; none for ours, or for the room's effect when we came in.
function showEffect(effect, from) {
  edgesBox.checked = effect === 'edges';
  if (from) {
    appendLine(chatLog, `${from.name} turned edge detection ${onOff(effect)}.`, 'notice');
  }
}

function onOff(effect) {
  return effect === 'none' ? 'off' : 'on';
}

function leave() {
  connection?.close(); // and its channel
  connection = null;
  ourSenders = {};
  showBadge(serverState, 'none');
  updateChat();
  roomVideo.srcObject = null;
  edgesBox.checked = false;
  peers.clear();
  stopLocalMedia();
  signaling.leave(); // the others get peer-left, and the server closes its side
}

function updateChat() {
  const open = chatReady && channel?.readyState === 'open';
  messageInput.disabled = !open;
  sendButton.disabled = !open;
  edgesBox.disabled = !open;
}

function localState() {
  const on = (kind) => localStream.getTracks().some((t) => t.kind === kind && t.enabled);
  return {mic: on('audio'), camera: on('video')};
}

async function toggle(kind) {
  const track = localStream.getTracks().find((t) => t.kind === kind);
  if (track) {
    // Off keeps the track on the connection: it sends black frames (or silence) instead, so
    // back on is instant and needs no renegotiation.
    track.enabled = !track.enabled;
  } else {
    await addLocalTrack(kind);
  }
  showLocalMedia(localStream);
  sendState();
}

// The server writes {mic, camera} into our caption in the room's picture.
function sendState() {
  if (chatReady && channel?.readyState === 'open') {
    channel.send(JSON.stringify({type: 'state', ...localState()}));
  }
}

// A track we did not have yet (camera off when we joined, or refused then). Its transceiver has
// been in our one offer since we joined: replaceTrack() puts the track in, with no new offer.
async function addLocalTrack(kind) {
  try {
    const stream = localStream;
    const constraints = {[kind]: kind === 'video' ? CAMERA : true};
    const [track] = (await navigator.mediaDevices.getUserMedia(constraints)).getTracks();
    if (stream !== localStream) {
      track.stop(); // we left (leave() replaced localStream) while the browser was asking
      return;
    }
    localStream.addTrack(track);
    await ourSenders[kind]?.replaceTrack(track);
    mediaError.textContent = '';
  } catch (error) {
    const device = kind === 'video' ? 'Camera' : 'Microphone';
    mediaError.textContent = `${device} unavailable: ${explainMediaError(error)}.`;
  }
}

function stopLocalMedia() {
  // Stopping the tracks releases the camera and microphone: the camera's light goes off.
  localStream.getTracks().forEach((track) => track.stop());
  localStream = new MediaStream();
  localName.textContent = 'You';
  showLocalMedia(null);
}
