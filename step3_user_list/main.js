'use strict';

// A live list of everyone in the room, and a private chat with whoever you click. Each person you
// talk to gets one RTCPeerConnection and one data channel, made the first time either side needs
// it and then used in both directions. If two people click each other at the same moment, both
// make an offer: the "perfect negotiation" rule in onDescription() lets exactly one of them win.

const me = document.querySelector('#me');
const userList = document.querySelector('#users');
const usersHint = document.querySelector('#users-hint');
const chatArea = document.querySelector('#chats');
const chatHint = document.querySelector('#chat-hint');
const userTemplate = document.querySelector('#user-template');
const chatTemplate = document.querySelector('#chat-template');
const statsPanels = document.querySelector('#stats');

const signaling = new Signaling();

// The other members of the room, by member id: {id, name, connection, channel, ...}.
const peers = new Map();
let iceServers = [];
// A private chat pane per person: page code, no WebRTC in it (common/static/private-chats.js).
const chats = new PrivateChats({area: chatArea, hint: chatHint, template: chatTemplate});

setUpJoinForm(signaling, {join, leave});

signaling.on('peer-joined', onPeerJoined);
signaling.on('peer-left', onPeerLeft);
signaling.on('signal', onSignal);
// After a server restart the page rejoins by itself (common/static/signaling.js). Anyone who
// came in meanwhile is in this ack's peers, as in our first one.
signaling.on('rejoined', onJoined);

async function join(room, name) {
  const ack = await signaling.join(room, name);
  me.textContent = `${name} (you)`;
  onJoined(ack);
}

// The ack lists the members already here, and the ICE servers to use (none on a LAN).
function onJoined(ack) {
  iceServers = ack.iceServers;
  // Listed, not called: nobody connects until one of the two wants to talk. They were here first,
  // so with them we are the impolite side (see onDescription()).
  ack.peers.forEach((member) => addPeer(member, false));
  updateUsersHint();
}

// Someone came in after us: we are the polite side with them.
function onPeerJoined(member) {
  addPeer(member, true);
}

// A list entry, and a private chat pane that stays hidden until it is opened. No connection yet.
function addPeer({id, name}, polite) {
  const item = userTemplate.content.firstElementChild.cloneNode(true);
  const peer = {
    id, name, polite, connection: null, channel: null,
    makingOffer: false, ignoreOffer: false, applyingAnswer: false, // see onDescription()
    item, badge: item.querySelector('.connection-state'), // where this page shows the peer
  };
  // Their private chat pane, hidden until opened: where peer.log writes, and its text box.
  const {log, input} = chats.add(peer, () => sendMessage(peer));
  Object.assign(peer, {log, input});
  item.dataset.peerName = name;
  item.querySelector('.name').textContent = name;
  item.querySelector('button').onclick = () => openChat(peer);
  peers.set(id, peer);
  userList.append(item);
  usersHint.hidden = true;
  return peer;
}

// A click on someone opens your chat with them, and connects if nobody has yet.
function openChat(peer) {
  chats.show(peer);
  call(peer);
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
    updateChat(peer);
  };
  channel.onclose = () => updateChat(peer);
  channel.onmessage = (event) => receiveMessage(peer, event.data);
}

function receiveMessage(peer, text) {
  appendLine(peer.log, `${peer.name}: ${text}`, 'received');
  chats.received(peer); // counted as unread if their chat is not the one open
}

// The text goes out on this peer's channel only: a private chat.
function sendMessage(peer) {
  const text = messageToSend(peer.input, peer.log); // null if blank or too long for a message
  if (!text || peer.channel?.readyState !== 'open') {
    return;
  }
  peer.channel.send(text);
  appendLine(peer.log, `You: ${text}`, 'sent');
  peer.input.value = '';
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
  chats.remove(peer); // an open chat stays on screen until you pick another
  updateUsersHint();
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

function leave() {
  me.textContent = '';
  chats.hide();
  peers.forEach(removePeer);
  usersHint.textContent = 'Join a room to see who is in it.';
  signaling.leave(); // the others get peer-left
}

function updateUsersHint() {
  usersHint.textContent = 'Nobody else is here yet: open this page in another tab.';
  usersHint.hidden = peers.size > 0;
}

// The private chat is usable while this peer's channel is open.
function updateChat(peer) {
  chats.setUsable(peer, peer.channel?.readyState === 'open');
}
