'use strict';

// The server is a WebRTC peer (aiortc, WebRTC written in Python). Step 5's mesh held one
// RTCPeerConnection per other member; this page holds ONE, to the server, whatever the size of
// the room. On it go:
//   - our camera and microphone, once (a send-only transceiver for each, even one we have not
//     opened yet): the server passes them on to everyone else;
//   - one data channel, 'chat': our messages and our mic/camera state go to the server, which
//     sends them on to the others with our name, and tells us which slot shows whom;
//   - receive-only "slots", one video and one audio transceiver per other member the room can
//     hold. They are all in our first and only offer, so nothing is ever renegotiated (a choice:
//     no offer and answer each time someone comes or goes): when someone joins, the server
//     starts sending their video into a free slot.

// A small picture at a modest frame rate: every page decodes one video per other member, so the
// size is paid many times over.
const CAMERA = {width: {ideal: 320}, height: {ideal: 240}, frameRate: {ideal: 15, max: 15}};

const chatLog = document.querySelector('#log');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const cameraOnJoin = document.querySelector('#camera-on-join');
const mediaError = document.querySelector('#media-error');
const micButton = document.querySelector('#mic-toggle');
const cameraButton = document.querySelector('#camera-toggle');
const serverState = document.querySelector('#server-state');
const connectionCount = document.querySelector('#connection-count');
const videoCount = document.querySelector('#video-count');
const summary = document.querySelector('#summary');
const tiles = document.querySelector('#tiles');
const tileTemplate = document.querySelector('#tile-template');
const localName = document.querySelector('#local-name');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// The other members of the room, by member id: {id, name, tile, ...}. No connection of their own.
const peers = new Map();
let iceServers = [];
let localStream = new MediaStream();
let connection = null; // our one RTCPeerConnection, to the server
let ourSenders = {}; // on it, our sender for 'audio' and for 'video'
let channel = null;
// Our channel opens on our side before the server listens on it, so chat waits for the server's
// 'ready' message, not for the channel's open event.
let chatReady = false;

const roomFullHint = 'The server forwards every video to every member, so rooms are capped.';
setUpJoinForm(signaling, {join, leave, log: chatLog, roomFullHint});
sendForm.onsubmit = (event) => {
  event.preventDefault();
  sendMessage();
};
setInterval(updateCounts, 500);
micButton.onclick = () => toggle('audio');
cameraButton.onclick = () => toggle('video');

signaling.on('peer-joined', onPeerJoined);
signaling.on('peer-left', onPeerLeft);
// After a server restart the page rejoins by itself (common/static/signaling.js). Anyone who
// came in meanwhile is in this ack's peers, as in our first one. The server peer restarted too:
// onJoined() connects to it again.
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
  // A tile for each member already here, and one connection, to the server, for all of them.
  if (ack.peers.length > 0) {
    const names = ack.peers.map((member) => member.name).join(', ');
    appendLine(chatLog, `Already here: ${names}.`, 'notice');
  }
  ack.peers.forEach(addPeer);
  connectToServer().catch((error) => {
    appendLine(chatLog, `Could not connect to the server: ${error.message}`, 'error');
  });
}

function onPeerJoined(member) {
  const peer = addPeer(member);
  appendLine(chatLog, `${peer.name} joined.`, 'notice');
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

// A video tile; the server's slots bring the tracks it plays (showSlots).
function addPeer({id, name}) {
  if (peers.has(id)) {
    return peers.get(id); // made already for a slot that came before peer-joined
  }
  const tile = tileTemplate.content.firstElementChild.cloneNode(true);
  const peer = {
    id, name, tile,
    log: chatLog,
    video: tile.querySelector('video'), status: tile.querySelector('.tile-status'),
    stream: new MediaStream(), // their tracks, as the slots bring them to us
  };
  tile.dataset.peerName = name;
  tile.querySelector('.tile-name').textContent = name;
  peers.set(id, peer);
  tiles.append(tile);
  return peer;
}

// The whole handshake, once: our tracks, the slots and the channel go into one offer, and the
// server's answer comes back as the acknowledgement of that offer.
async function connectToServer() {
  connection?.close(); // one from before a server restart, which the server has forgotten
  peers.forEach((peer) => {
    peer.stream = new MediaStream(); // and the tracks it brought
  });
  const {slots: slotCount} = await signaling.request('slots'); // how many the room may need
  const pc = createServerConnection();
  connection = pc;
  sendOurTracks(pc);
  addReceiveSlots(pc, slotCount);
  // Not negotiated as in step 5: announced in our offer, the server gets it in its datachannel
  // event, and its own code starts to listen only then (see chatReady).
  setUpServerChannel(pc.createDataChannel('chat'));
  updateChat();
  await offerToServer(pc);
}

// addTransceiver(), not step 5's addTrack(): a transceiver is one m-line of the offer, with a
// direction. Ours only send, one for the microphone and one for the camera, even if we have not
// opened it (yet): addLocalTrack() fills it later. What we receive comes in the slots.
function sendOurTracks(pc) {
  for (const kind of ['audio', 'video']) {
    const track = localStream.getTracks().find((t) => t.kind === kind);
    const options = {direction: 'sendonly', streams: [localStream]};
    ourSenders[kind] = pc.addTransceiver(track ?? kind, options).sender;
  }
}

// A slot is a pair of receive-only transceivers, one video and one audio, with no track of ours.
// There is one per other member the room can hold (the server says how many), made before anyone
// needs them: when someone joins, the server sends their video and sound into a free slot, and
// names it by the transceivers' mids ('slots' message, showSlots()).
function addReceiveSlots(pc, count) {
  for (let i = 0; i < count; i++) {
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.addTransceiver('audio', {direction: 'recvonly'});
  }
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
  watchStats(pc, statsPanels, 'Connection to the server');
  showBadge(serverState, pc.connectionState);
  return pc;
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
    appendLine(chatLog, 'Connected to the server: chat, video and sound go through it.', 'notice');
    sendState();
    updateChat();
  } else if (message?.type === 'chat') {
    receiveMessage(message.from, message.text);
  } else if (message?.type === 'state') {
    // A state may come before peer-joined, as a slot may: `from` is the server's {id, name}.
    showRemoteState(peerNamed(message.from.name) ?? addPeer(message.from), message);
  } else if (message?.type === 'slots') {
    showSlots(message.slots);
  } else if (message?.type === 'error') {
    appendLine(chatLog, `The server says: ${message.message}`, 'error');
  }
}

// {mid, id, name} for each slot in use: the transceiver with that mid carries that member's video
// or sound. A mid names one m-line of our offer, so it finds the transceiver, whose receiver's
// track has played that slot since the answer; now we know whose it is. (No ontrack here: it
// fired for every slot when the answer was applied, long before anyone was in them.)
function showSlots(slots) {
  for (const {mid, id, name} of slots) {
    const peer = peerNamed(name) ?? addPeer({id, name}); // a slot may come before peer-joined
    const track = connection.getTransceivers().find((t) => t.mid === mid)?.receiver.track;
    if (track && !peer.stream.getTracks().includes(track)) {
      showRemoteTrack(peer, track);
    }
  }
}

// By name, not by id: the ids in 'slots' and 'state' are the server's, and after a server restart
// signaling.js keeps, for a member who came back under a new id, the id this page knew
// (common/static/signaling.js). A name is unique in a room and stays the same.
function peerNamed(name) {
  return [...peers.values()].find((peer) => peer.name === name);
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
    appendLine(peer.log, `${peer.name} left.`, 'notice');
    removePeer(peer);
  }
}

function removePeer(peer) {
  peer.video.srcObject = null; // the slot's tracks live on, for whoever the server puts in it next
  peers.delete(peer.id);
  peer.tile.remove();
}

function leave() {
  connection?.close(); // and its channel
  connection = null;
  ourSenders = {};
  showBadge(serverState, 'none');
  updateChat();
  peers.forEach(removePeer);
  stopLocalMedia();
  signaling.leave(); // the others get peer-left, and the server closes its side
}

// The lesson in numbers: one connection here, n in the room, against n-1 and n(n-1)/2 in a mesh.
// Refreshed twice a second, as in steps 4 and 5.
function updateCounts() {
  connectionCount.textContent = connection ? 1 : 0;
  videoCount.textContent = [...peers.values()]
    .filter((peer) => peer.stream.getVideoTracks().length > 0).length;
  const people = peers.size + 1;
  summary.textContent = connection ?
    `${people} in the room: 1 connection per person, to the server, which gets your camera once. ` +
      `A mesh would need ${people - 1} per person, and send your camera ${times(people - 1)}.` :
    'Join a room to see what it costs.';
}

function times(count) {
  return count === 1 ? 'once' : `${count} times`;
}

function updateChat() {
  const open = chatReady && channel?.readyState === 'open';
  messageInput.disabled = !open;
  sendButton.disabled = !open;
}

// A slot's track, once the server has said whose it is.
function showRemoteTrack(peer, track) {
  peer.stream.addTrack(track);
  // Setting srcObject again makes the element take up a track added after it started playing.
  peer.video.srcObject = peer.stream;
  // With their sound: should the autoplay policy refuse it, the tile plays muted, with an unmute
  // button (common/static/media.js).
  playWithSound(peer.video, peer.tile.querySelector('.unmute'));
}

function showRemoteState(peer, state) {
  const camera = state?.camera === true; // anything else is off
  peer.tile.dataset.camera = camera ? 'on' : 'off';
  peer.status.textContent = describeState({mic: state?.mic === true, camera});
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

// The server passes {mic, camera} on to the others, with our name: their tiles say "muted".
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
