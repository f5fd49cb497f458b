'use strict';

// The server is a WebRTC peer. This page holds ONE RTCPeerConnection, to the server, whatever the
// size of the room (step 4's mesh needed n-1). On it go:
//   - our camera and microphone, once: the server passes them on to everyone else;
//   - a data channel, 'chat': we send {type: 'chat', text}; the server sends each message on to
//     the others with the sender's name, and tells us which slot shows whom;
//   - receive-only "slots", one video and one audio transceiver per other member the room can
//     hold. They are all in our first and only offer, so nothing is ever renegotiated: when
//     someone joins, the server starts sending their video into a free slot.

// A small picture at a modest frame rate: the server decodes, encodes and relays every camera, and
// every page decodes one video per other member (see the README for what it costs).
const CAMERA = {width: {ideal: 320}, height: {ideal: 240}, frameRate: {ideal: 15, max: 15}};

const joinForm = document.querySelector('#join-form');
const nameInput = document.querySelector('#name');
const roomInput = document.querySelector('#room');
const joinButton = document.querySelector('#join');
const leaveButton = document.querySelector('#leave');
const joinError = document.querySelector('#join-error');
const mediaError = document.querySelector('#media-error');
const signalingState = document.querySelector('#signaling-state');
const serverState = document.querySelector('#server-state');
const micButton = document.querySelector('#mic-toggle');
const cameraButton = document.querySelector('#camera-toggle');
const connectionCount = document.querySelector('#connection-count');
const videoCount = document.querySelector('#video-count');
const summary = document.querySelector('#summary');
const tiles = document.querySelector('#tiles');
const tileTemplate = document.querySelector('#tile-template');
const localVideo = document.querySelector('#local-video');
const localName = document.querySelector('#local-name');
const localStatus = document.querySelector('#local-status');
const chatLog = document.querySelector('#log');
const memberList = document.querySelector('#members');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// The other members, from signaling: {id, name, item, tile, video, status}.
const members = new Map();
let connection = null; // our one RTCPeerConnection, to the server
let channel = null;
let chatReady = false; // the server has our channel (its 'ready' message)
let localStream = new MediaStream();
let iceServers = [];
let joined = false;

nameInput.value = randomName();
roomInput.value = roomFromUrl();
joinForm.onsubmit = (event) => {
  event.preventDefault();
  join();
};
leaveButton.onclick = leave;
sendForm.onsubmit = (event) => {
  event.preventDefault();
  sendMessage();
};
micButton.onclick = () => toggle('audio');
cameraButton.onclick = () => toggle('video');

signaling.on('connect', () => showBadge(signalingState, 'connected'));
signaling.on('disconnect', onSignalingLost);
signaling.on('peer-joined', onPeerJoined);
signaling.on('peer-left', onPeerLeft);

async function join() {
  const room = roomInput.value.trim();
  const name = nameInput.value.trim();
  joinError.textContent = '';
  mediaError.textContent = '';
  joinButton.disabled = true;
  joined = true; // someone joining at the same moment may be announced before our ack arrives
  // Everything the offer needs, asked for at the same time rather than one after the other: our
  // media, our membership (the ack brings the ICE servers) and the number of slots, which is the
  // same for every member (the room's capacity minus one), so it need not wait for the join.
  const media = openLocalMedia();
  const slotCount = signaling.request('slots').then((ack) => ack.slots);
  const [membership] = await Promise.allSettled([signaling.join(room, name), media, slotCount]);
  localStream = await media;
  if (membership.status === 'rejected') {
    joined = false;
    stopLocalMedia(); // the camera opened for nothing: release it
    joinButton.disabled = false;
    joinError.textContent = explainJoinError(membership.reason);
    return;
  }
  const ack = membership.value;
  iceServers = ack.iceServers;
  showJoined(true);
  localName.textContent = `${name} (you)`;
  localVideo.srcObject = localStream;
  showLocalState();
  appendLine(memberList, `${name} (you)`, 'self');
  appendLine(chatLog, `You joined room ${room} as ${name}.`, 'notice');
  ack.peers.forEach(addMember);
  try {
    await connectToServer(await slotCount);
  } catch (error) {
    appendLine(chatLog, `Could not connect to the server: ${error.message}`, 'error');
  }
}

function explainJoinError(error) {
  switch (error.code) {
    case 'room-full':
      return `This room is full (${error.message}). The server passes every video on to ` +
        'every other member, so rooms are capped. Pick another room name.';
    case 'name-taken':
      return 'Someone in this room already uses that name. Pick another one.';
    default:
      return `Could not join: ${error.message}`;
  }
}

// Camera and microphone; without them we still join, see, hear and chat.
async function openLocalMedia() {
  const attempts = [{audio: true, video: CAMERA}, {audio: true}, {video: CAMERA}];
  for (const constraints of attempts) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      if (!constraints.video || !constraints.audio) {
        mediaError.textContent = `Only the ${constraints.video ? 'camera' : 'microphone'} ` +
          'could be opened: the others get that alone.';
      }
      return stream;
    } catch (error) {
      mediaError.textContent = `No camera or microphone (${error.name}): you join to watch, ` +
        'listen and chat. Cameras need https:// or http://localhost.';
    }
  }
  return new MediaStream();
}

// The whole handshake, once: our tracks, the slots and the channel go into one offer, and the
// server's answer comes back as the acknowledgement of that offer.
async function connectToServer(slots) {
  connection = createConnection();
  localStream.getTracks().forEach((track) => {
    connection.addTransceiver(track, {direction: 'sendonly', streams: [localStream]});
  });
  for (let i = 0; i < slots; i++) {
    connection.addTransceiver('video', {direction: 'recvonly'});
    connection.addTransceiver('audio', {direction: 'recvonly'});
  }
  setUpChannel(connection.createDataChannel('chat'));
  await connection.setLocalDescription();
  // aiortc takes no trickled candidates: wait until ours are all in the offer's SDP.
  await iceGatheringComplete(connection);
  const {description} = await signaling.request('offer', {description: connection.localDescription});
  await connection.setRemoteDescription(description);
  updateCounts();
}

function createConnection() {
  // max-bundle: every m-line on one transport, so the candidates are gathered once.
  const pc = new RTCPeerConnection({...peerConfiguration(iceServers), bundlePolicy: 'max-bundle'});
  pc.onconnectionstatechange = () => onConnectionStateChange(pc);
  watchStats(pc, statsPanels, 'Connection to the server');
  showBadge(serverState, pc.connectionState);
  return pc;
}

function iceGatheringComplete(pc) {
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', check);
    check();
  });
}

function onConnectionStateChange(pc) {
  if (pc !== connection) {
    return;
  }
  showBadge(serverState, pc.connectionState);
  if (pc.connectionState === 'failed') {
    appendLine(chatLog, 'The connection to the server failed. Leave and join again.', 'error');
  }
}

function setUpChannel(newChannel) {
  channel = newChannel;
  channel.onclose = updateCounts;
  channel.onmessage = onServerMessage;
}

// Everything on the channel comes from the server; it names who said what.
function onServerMessage(event) {
  const message = JSON.parse(event.data);
  if (message.type === 'ready') {
    // Our channel is open on both ends: from now on we hear every message.
    chatReady = true;
    appendLine(chatLog, 'Connected to the server: chat, video and sound all go through it.', 'notice');
    updateCounts();
  } else if (message.type === 'chat') {
    appendLine(chatLog, `${message.from.name}: ${message.text}`, 'received');
  } else if (message.type === 'slots') {
    showSlots(message.slots);
  } else if (message.type === 'error') {
    appendLine(chatLog, `The server says: ${message.message}`, 'error');
  }
}

// {mid, kind, id, name} for each slot in use: the transceiver with that mid carries that
// member's video or sound. A slot's track stays the same when it changes hands.
function showSlots(slots) {
  const tracksOf = new Map();
  for (const {mid, id, name} of slots) {
    const transceiver = connection.getTransceivers().find((t) => t.mid === mid);
    if (transceiver && addMember({id, name})) {
      tracksOf.set(id, [...(tracksOf.get(id) ?? []), transceiver.receiver.track]);
    }
  }
  members.forEach((member) => showTracks(member, tracksOf.get(member.id) ?? []));
  updateCounts();
}

function showTracks(member, tracks) {
  const shown = member.video.srcObject?.getTracks() ?? [];
  if (shown.length === tracks.length && tracks.every((track) => shown.includes(track))) {
    return; // setting srcObject again would restart the video
  }
  member.video.srcObject = tracks.length > 0 ? new MediaStream(tracks) : null;
  const hasVideo = tracks.some((track) => track.kind === 'video');
  member.status.textContent = hasVideo ? '' : 'no video';
  member.video.play().catch(() => {
    member.video.muted = true; // the autoplay policy refused sound: play muted rather than not
    member.video.play().catch(() => {});
  });
}

function onPeerJoined(member) {
  if (joined && addMember(member)) {
    appendLine(chatLog, `${member.name} joined.`, 'notice');
  }
}

// Returns the member, or null once we have left.
function addMember({id, name}) {
  if (!joined) {
    return null;
  }
  if (members.has(id)) {
    return members.get(id);
  }
  const tile = tileTemplate.content.firstElementChild.cloneNode(true);
  tile.dataset.peerName = name;
  tile.querySelector('.tile-name').textContent = name;
  tiles.append(tile);
  const member = {
    id,
    name,
    item: appendLine(memberList, name, 'member'),
    tile,
    video: tile.querySelector('video'),
    status: tile.querySelector('.tile-status'),
  };
  members.set(id, member);
  updateCounts();
  return member;
}

function onPeerLeft({id}) {
  const member = members.get(id);
  if (member) {
    appendLine(chatLog, `${member.name} left.`, 'notice');
    removeMember(member);
  }
}

function removeMember(member) {
  member.video.srcObject = null;
  member.tile.remove();
  member.item.remove();
  members.delete(member.id);
  updateCounts();
}

// One send, whatever the size of the room: the server does the fan-out.
function sendMessage() {
  const text = messageInput.value;
  if (!text || !chatReady || channel?.readyState !== 'open') {
    return;
  }
  channel.send(JSON.stringify({type: 'chat', text}));
  appendLine(chatLog, `You: ${text}`, 'sent');
  messageInput.value = '';
}

// Off sends black frames (or silence) on the same track: instant, and nothing to renegotiate.
function toggle(kind) {
  localStream.getTracks().filter((track) => track.kind === kind).forEach((track) => {
    track.enabled = !track.enabled;
  });
  showLocalState();
}

function showLocalState() {
  const on = (kind) => localStream.getTracks().some((t) => t.kind === kind && t.enabled);
  micButton.textContent = on('audio') ? 'Mute microphone' : 'Unmute microphone';
  micButton.setAttribute('aria-pressed', String(!on('audio')));
  cameraButton.textContent = on('video') ? 'Turn camera off' : 'Turn camera on';
  cameraButton.setAttribute('aria-pressed', String(!on('video')));
  localStatus.textContent = !joined ? 'not joined' :
    [!on('audio') && 'muted', !on('video') && 'camera off'].filter(Boolean).join(' · ');
}

async function leave() {
  hangUp();
  try {
    await signaling.leave();
  } finally {
    appendLine(chatLog, 'You left the room.', 'notice');
  }
}

// The server counts a lost socket as a leave and closes its side, so we close ours.
function onSignalingLost() {
  showBadge(signalingState, 'disconnected');
  if (joined) {
    hangUp();
    appendLine(chatLog, 'Lost the signaling server, so you left the room. Join again.', 'error');
  }
}

function hangUp() {
  joined = false;
  chatReady = false;
  channel?.close();
  connection?.close();
  channel = null;
  connection = null;
  showBadge(serverState, 'none');
  members.forEach(removeMember);
  memberList.replaceChildren();
  stopLocalMedia();
  showJoined(false);
  updateCounts();
}

function stopLocalMedia() {
  localStream.getTracks().forEach((track) => track.stop());
  localStream = new MediaStream();
  localVideo.srcObject = null;
  localName.textContent = 'You';
  showLocalState();
}

// The lesson in numbers: one connection here, n in the room, against n-1 and n(n-1)/2 in a mesh.
function updateCounts() {
  const held = connection && connection.signalingState !== 'closed' ? 1 : 0;
  connectionCount.textContent = held;
  videoCount.textContent = [...members.values()]
    .filter((member) => member.video.srcObject?.getVideoTracks().length > 0).length;
  const people = members.size + 1;
  summary.textContent = joined ?
    `${people} in the room: 1 connection per person, ${people} in all, each to the server. ` +
      `A mesh would need ${people - 1} per person and ${(people * (people - 1)) / 2} in all.` :
    'Join a room to see what it costs.';
  const open = chatReady && channel?.readyState === 'open';
  messageInput.disabled = !open;
  sendButton.disabled = !open;
}

function showJoined(isJoined) {
  joinButton.disabled = isJoined;
  leaveButton.disabled = !isJoined;
  nameInput.disabled = isJoined;
  roomInput.disabled = isJoined;
  micButton.disabled = !isJoined;
  cameraButton.disabled = !isJoined;
}

function showBadge(badge, text) {
  badge.textContent = text;
  badge.dataset.state = text;
}

// For the curious (and the tests), from the console: video frames decoded from someone so far.
// With one connection, getStats() tells the streams apart by the mid of their slot.
async function framesDecodedFrom(name) {
  const member = [...members.values()].find((m) => m.name === name);
  const track = member?.video.srcObject?.getVideoTracks()[0];
  const transceiver = connection?.getTransceivers().find((t) => t.receiver.track === track);
  if (!track || !transceiver) {
    return 0;
  }
  let frames = 0;
  (await connection.getStats()).forEach((report) => {
    if (report.type === 'inbound-rtp' && report.mid === transceiver.mid) {
      frames = report.framesDecoded ?? 0;
    }
  });
  return frames;
}
