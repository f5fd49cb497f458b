'use strict';

// A group chat as a full mesh: this page holds one RTCPeerConnection, with one data channel, to
// every other member of the room. With n people in the room that is n-1 connections here and
// n(n-1)/2 in the whole room, and every message is sent n-1 times, once per channel.

const me = document.querySelector('#me');
const userList = document.querySelector('#users');
const usersHint = document.querySelector('#users-hint');
const connectionCount = document.querySelector('#connection-count');
const channelCount = document.querySelector('#channel-count');
const meshSummary = document.querySelector('#mesh-summary');
const chatLog = document.querySelector('#log');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const userTemplate = document.querySelector('#user-template');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// The other members of the room, by member id: {id, name, connection, channel, ...}.
const peers = new Map();
let iceServers = [];

const roomFullHint = 'In a mesh everyone connects to everyone else, so rooms are kept small.';
setUpJoinForm(signaling, {join, leave, log: chatLog, roomFullHint});
sendForm.onsubmit = (event) => {
  event.preventDefault();
  sendMessage();
};
setInterval(updateCounts, 500);

signaling.on('peer-joined', onPeerJoined);
signaling.on('peer-left', onPeerLeft);
signaling.on('signal', onSignal);
// After a server restart the page rejoins by itself (common/static/signaling.js). Anyone who
// came in meanwhile is in this ack's peers, as in our first one.
signaling.on('rejoined', onJoined);

async function join(room, name) {
  const ack = await signaling.join(room, name);
  me.textContent = `${name} (you)`;
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
  updateUsersHint();
}

// Someone came in after us: we are the polite side with them, and they call us.
function onPeerJoined(member) {
  const peer = addPeer(member, true);
  appendLine(peer.log, `${peer.name} joined; they are calling you.`, 'notice');
}

// A list entry; everything this page says about the peer goes to the one chat log.
function addPeer({id, name}, polite) {
  const item = userTemplate.content.firstElementChild.cloneNode(true);
  const peer = {
    id, name, polite, connection: null, channel: null,
    makingOffer: false, ignoreOffer: false, applyingAnswer: false, // see onDescription()
    item, badge: item.querySelector('.connection-state'), // where this page shows the peer
    log: chatLog,
  };
  item.dataset.peerName = name;
  item.querySelector('.name').textContent = name;
  peers.set(id, peer);
  userList.append(item);
  usersHint.hidden = true;
  return peer;
}

function call(peer) {
  peer.connection ??= createConnection(peer); // its data channel fires negotiationneeded
}

function createConnection(peer) {
  const pc = new RTCPeerConnection(peerConfiguration(iceServers));
  // The last event has no candidate (null): gathering is over, and there is nothing to send.
  pc.onicecandidate = ({candidate}) => candidate && sendSignal(peer, {candidate});
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
  };
  channel.onclose = updateChat;
  channel.onmessage = (event) => receiveMessage(peer, event.data);
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
  channels.forEach((channel) => channel.send(text));
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
  peer.item.remove();
  updateUsersHint();
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
  me.textContent = '';
  peers.forEach(removePeer);
  usersHint.textContent = 'Join a room to see who is in it.';
  signaling.leave(); // the others get peer-left
}

function updateUsersHint() {
  usersHint.textContent = 'Nobody else is here yet: open this page in another tab.';
  usersHint.hidden = peers.size > 0;
}

// The lesson in numbers: n-1 connections on this page, n(n-1)/2 in the room. A display, so it is
// simply refreshed twice a second (like the stats panel), not from every place that changes them.
function updateCounts() {
  // The RTCPeerConnections this page holds, up or still coming up.
  connectionCount.textContent = [...peers.values()].filter((peer) => peer.connection).length;
  channelCount.textContent = openChannels().length;
  const people = peers.size + 1;
  meshSummary.textContent = signaling.joined ?
    `${people} in the room: ${people - 1} ${people === 2 ? 'connection' : 'connections'} per ` +
      `person, ${(people * (people - 1)) / 2} in the whole mesh.` :
    'Join a room to see the mesh.';
}

function updateChat() {
  const open = openChannels().length > 0;
  messageInput.disabled = !open;
  sendButton.disabled = !open;
}
