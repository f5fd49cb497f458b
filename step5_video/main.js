'use strict';

// A video call as a full mesh. As in step 4, this page holds one RTCPeerConnection to every other
// member, with the group chat on it; now each connection also carries our camera and microphone
// (getUserMedia, then addTrack) and brings theirs back (ontrack). A camera turned on later adds a
// track, which needs a new offer/answer round: renegotiation, which negotiate() already does.
// The chat channel now carries our mic and camera state too, so its messages become typed JSON.
// Each member is a video tile now, in place of step 4's list entry.

// A small picture at a modest frame rate: every page decodes one video per other member (and in
// a mesh also encodes its own once per other member), so the size is paid many times over.
const CAMERA = {width: {ideal: 320}, height: {ideal: 240}, frameRate: {ideal: 15, max: 15}};

const chatLog = document.querySelector('#log');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const cameraOnJoin = document.querySelector('#camera-on-join');
const mediaError = document.querySelector('#media-error');
const micButton = document.querySelector('#mic-toggle');
const cameraButton = document.querySelector('#camera-toggle');
const connectionCount = document.querySelector('#connection-count');
const videoCount = document.querySelector('#video-count');
const summary = document.querySelector('#summary');
const tiles = document.querySelector('#tiles');
const tileTemplate = document.querySelector('#tile-template');
const localName = document.querySelector('#local-name');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// The other members of the room, by member id: {id, name, connection, channel, ...}.
const peers = new Map();
let iceServers = [];
let localStream = new MediaStream();

const roomFullHint = 'A video mesh sends every video to every page, so rooms are kept small.';
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
signaling.on('signal', onSignal);
// After a server restart the page rejoins by itself (common/static/signaling.js). Anyone who
// came in meanwhile is in this ack's peers, as in our first one.
signaling.on('rejoined', onJoined);

async function join(room, name) {
  mediaError.textContent = '';
  // Our camera first, then the room: no connection is made before our media is known, so our
  // tracks are in its first offer or answer.
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
  const alone = ack.peers.length === 0 ? ' You are the first one here; others will call you.' : '';
  appendLine(chatLog, `You joined room ${room} as ${name}.${alone}`, 'notice');
  onJoined(ack);
}

// The ack lists the members already here, and the ICE servers to use (none on a LAN).
function onJoined(ack) {
  iceServers = ack.iceServers;
  // We are the newcomer: we call every member already here, and nobody calls us, so two first
  // offers cannot cross. Step 3's perfect negotiation stays all the same (we are the impolite
  // side: they were here first), for offers that come later, like step 5's added tracks.
  if (ack.peers.length > 0) {
    const names = ack.peers.map((member) => member.name).join(', ');
    appendLine(chatLog, `Calling the ${ack.peers.length} already here: ${names}.`, 'notice');
  }
  ack.peers.map((member) => addPeer(member, false)).forEach(call);
}

// Someone came in after us: we are the polite side with them, and they call us.
function onPeerJoined(member) {
  const peer = addPeer(member, true);
  appendLine(peer.log, `${peer.name} joined; they are calling you.`, 'notice');
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

// A video tile, which shows the state of the connection too; what this page says about the peer
// goes to the one chat log.
function addPeer({id, name}, polite) {
  const tile = tileTemplate.content.firstElementChild.cloneNode(true);
  const peer = {
    id, name, polite, connection: null, channel: null,
    makingOffer: false, ignoreOffer: false, applyingAnswer: false, // see onDescription()
    tile, badge: tile.querySelector('.connection-state'), // where this page shows the peer
    log: chatLog,
    video: tile.querySelector('video'), status: tile.querySelector('.tile-status'),
    stream: new MediaStream(), // their tracks, as ontrack hands them to us
  };
  tile.dataset.peerName = name;
  tile.querySelector('.tile-name').textContent = name;
  peers.set(id, peer);
  tiles.append(tile);
  return peer;
}

function call(peer) {
  peer.connection ??= createConnection(peer); // its tracks and channels fire negotiationneeded
}

function createConnection(peer) {
  const pc = new RTCPeerConnection(peerConfiguration(iceServers));
  // The last event has no candidate (null): gathering is over, and there is nothing to send.
  pc.onicecandidate = ({candidate}) => candidate && sendSignal(peer, {candidate});
  pc.onnegotiationneeded = () => negotiate(peer);
  pc.onconnectionstatechange = () => onConnectionStateChange(peer);
  pc.ontrack = ({track}) => showRemoteTrack(peer, track);
  // Each track goes with its stream, which only groups them on the other side (their ontrack
  // event.streams); we gather their tracks ourselves, in peer.stream.
  localStream.getTracks().forEach((track) => pc.addTrack(track, localStream));
  // Both sides create the chat channel themselves, with the same id ("negotiated"), instead of
  // one side announcing it to the other: it is there as soon as the connection is.
  setUpChannel(peer, pc.createDataChannel('chat', {negotiated: true, id: 0}));
  watchStats(pc, statsPanels, peer.name); // its getStats(), live, in the stats panel
  showBadge(peer.badge, pc.connectionState);
  return pc;
}

// Fired when the connection has something new to agree on: the data channel, and now each track.
// With no argument, setLocalDescription() creates the offer and applies it.
async function negotiate(peer) {
  const pc = peer.connection;
  try {
    peer.makingOffer = true;
    await pc.setLocalDescription();
    appendLine(peer.log, `Sent an offer to ${peer.name}.`, 'notice');
    await sendSignal(peer, {description: pc.localDescription});
  } catch (error) {
    appendLine(peer.log, `Could not make an offer to ${peer.name}: ${error.message}`, 'error');
  } finally {
    peer.makingOffer = false;
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

// Perfect negotiation (the pattern of the WebRTC specification). Either side may offer at any
// time, so two offers can cross ("glare"). Then the impolite side ignores the offer it receives
// and keeps its own; the polite side applies it (setRemoteDescription() of an offer rolls its own
// back by itself) and answers. Either way exactly one offer wins, and the two sides keep one
// connection. Which side is polite is a rule both agree on: here, whoever was in the room first.
// peer.polite says whether WE are the polite side with that peer.
async function onDescription(peer, description) {
  const pc = peer.connection;
  // Applying an answer takes a moment, and the other side may already send its next offer (from
  // step 5 on, say, for a track it added once it had answered): that is no collision, since we are
  // stable by the time it is applied (the specification's example calls this flag
  // isSettingRemoteAnswerPending).
  const stable = pc.signalingState === 'stable' || peer.applyingAnswer;
  const collision = description.type === 'offer' && (peer.makingOffer || !stable);
  peer.ignoreOffer = collision && !peer.polite;
  if (collision) {
    appendLine(peer.log, peer.ignoreOffer ?
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
    appendLine(peer.log, `Answered ${peer.name}'s offer.`, 'notice');
    await sendSignal(peer, {description: pc.localDescription});
  }
}

// A candidate may come while the description before it is still being applied:
// addIceCandidate() waits for that.
async function onCandidate(peer, candidate) {
  // Read now: by the time addIceCandidate() fails, the next description may have changed it.
  const fromIgnoredOffer = peer.ignoreOffer;
  try {
    await peer.connection.addIceCandidate(candidate);
  } catch (error) {
    if (!fromIgnoredOffer) {
      throw error; // candidates of an offer we ignored are expected to fail; others are not
    }
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
  }
}

function setUpChannel(peer, channel) {
  peer.channel = channel;
  channel.onopen = () => {
    appendLine(peer.log, `Data channel to ${peer.name} is open.`, 'notice');
    updateChat();
    channel.send(JSON.stringify({type: 'state', ...localState()}));
  };
  channel.onclose = updateChat;
  channel.onmessage = (event) => onMessage(peer, parseJson(event.data));
}

// Two kinds of message on the channel now: {type: 'chat', text} and {type: 'state', mic, camera}.
// Anything else, or anything that is not JSON, is not ours and is dropped.
function onMessage(peer, message) {
  if (message?.type === 'chat' && typeof message.text === 'string') {
    receiveMessage(peer, message.text);
  } else if (message?.type === 'state') {
    showRemoteState(peer, message);
  }
}

function receiveMessage(peer, text) {
  appendLine(peer.log, `${peer.name}: ${text}`, 'received');
}

function openChannels() {
  return [...peers.values()]
    .map((peer) => peer.channel)
    .filter((channel) => channel?.readyState === 'open');
}

// No server in the middle: the same text goes out once on every open channel.
function sendMessage() {
  const text = messageToSend(messageInput, chatLog); // null if blank or too long for a message
  const channels = openChannels();
  if (!text || channels.length === 0) {
    return;
  }
  const message = JSON.stringify({type: 'chat', text});
  channels.forEach((channel) => channel.send(message));
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
  peer.tile.remove();
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
  stopLocalMedia();
  signaling.leave(); // the others get peer-left
}

// The lesson in numbers: n-1 connections on this page, n(n-1)/2 in the room. A display, so it is
// simply refreshed twice a second (like the stats panel), not from every place that changes them.
// Video adds its own cost: our camera is sent once per other member, and each of theirs decoded.
function updateCounts() {
  // The RTCPeerConnections this page holds, up or still coming up.
  connectionCount.textContent = [...peers.values()].filter((peer) => peer.connection).length;
  videoCount.textContent = [...peers.values()]
    .filter((peer) => peer.stream.getVideoTracks().length > 0).length;
  const people = peers.size + 1;
  summary.textContent = signaling.joined ?
    `${people} in the room: ${people - 1} ${people === 2 ? 'connection' : 'connections'} per ` +
      `person, ${(people * (people - 1)) / 2} in the whole mesh; your camera is sent ` +
      `${times(people - 1)}.` :
    'Join a room to see what it costs.';
}

function times(count) {
  return count === 1 ? 'once' : `${count} times`;
}

function updateChat() {
  const open = openChannels().length > 0;
  messageInput.disabled = !open;
  sendButton.disabled = !open;
}

// ontrack fires once per track the other side sends, including one added by a renegotiation.
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
    // Off keeps the track on every connection: it sends black frames (or silence) instead, so
    // back on is instant and needs no renegotiation.
    track.enabled = !track.enabled;
  } else {
    await addLocalTrack(kind);
  }
  showLocalMedia(localStream);
  sendState();
}

// Our {mic, camera}, said when the channel opens and whenever we toggle something. Black frames or
// silence could also be a dark, quiet room; this says what is really going on.
function sendState() {
  const message = JSON.stringify({type: 'state', ...localState()});
  openChannels().forEach((channel) => channel.send(message));
}

// A track we did not have yet (camera off when we joined, or refused then). Adding it to a
// connection that is up fires negotiationneeded there: negotiate() sends a new offer, and the
// other side's ontrack fires when it applies it. That is renegotiation.
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
    peers.forEach((peer) => peer.connection?.addTrack(track, localStream));
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
