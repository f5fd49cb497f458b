'use strict';

// A live list of everyone in the room, and a private chat with whoever you click. Each person you
// talk to gets one RTCPeerConnection and one data channel, made the first time either side needs
// it and then used in both directions. If two people click each other at the same moment, both
// make an offer: the "perfect negotiation" rule in onDescription() lets exactly one of them win.
//
// New in this step: a Call button beside each person, for a video call that rings first. A call
// is a small state machine (calling, ringing, in a call) driven by call messages that go through
// the signaling server like offers do: invite, accept, decline, busy, cancel, hang-up. No camera
// is asked for and no connection is made until the other side accepts; then both sides turn their
// camera on, and the caller connects, with step 3's negotiation.

const me = document.querySelector('#me');
const userList = document.querySelector('#users');
const usersHint = document.querySelector('#users-hint');
const chatArea = document.querySelector('#chats');
const chatHint = document.querySelector('#chat-hint');
const userTemplate = document.querySelector('#user-template');
const chatTemplate = document.querySelector('#chat-template');
const statsPanels = document.querySelector('#stats');
const callStatus = document.querySelector('#call-status');
const acceptButton = document.querySelector('#accept');
const declineButton = document.querySelector('#decline');
const cancelButton = document.querySelector('#cancel');
const hangUpButton = document.querySelector('#hang-up');
const callVideos = document.querySelector('#call-videos');
const localVideo = document.querySelector('#local-video');
const remoteTile = document.querySelector('#remote-tile');
const remoteVideo = remoteTile.querySelector('video');

// How long a call rings before it counts as unanswered; ?ringTimeout=MS changes it.
const RING_TIMEOUT_MS = Number(new URLSearchParams(location.search).get('ringTimeout')) || 30000;
const CAMERA = {width: 640, height: 480};

const signaling = new Signaling();

// The other members of the room, by member id: {id, name, connection, channel, ...}.
const peers = new Map();
let iceServers = [];
// A private chat pane per person: page code, no WebRTC in it (common/static/private-chats.js).
const chats = new PrivateChats({area: chatArea, hint: chatHint, template: chatTemplate});
// The one call this page is in or about to be in, like a phone's one line:
// {peer, id, caller, state: 'calling' | 'ringing' | 'in-call', timer}, or null.
let currentCall = null;
let localStream = null; // our camera and microphone, from the answer to the end of the call
const ringer = new Ringer(); // common/static/ringer.js

acceptButton.onclick = accept;
declineButton.onclick = () => endCall(`You declined ${currentCall.peer.name}'s call.`, 'decline');
cancelButton.onclick = () => endCall('You cancelled the call.', 'cancel');
hangUpButton.onclick = () => endCall('You hung up.', 'hang-up');

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
  item.querySelector('.call-button').onclick = () => dial(peer);
  item.querySelector('.call-button').disabled = currentCall !== null;
  if (currentCall?.state === 'in-call') {
    sendCall(peer, 'in-call', currentCall.id); // a newcomer's list shows us in a call too
  }
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
  pc.ontrack = ({streams: [stream]}) => showRemoteVideo(peer, stream);
  // In a call, our tracks go in the first offer, or, if their offer made this connection, in
  // the answer (it takes up the transceivers addTrack made).
  addLocalTracks(peer, pc);
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
  if (peer && data.call) {
    onCallMessage(peer, data.call);
    return;
  }
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
    if (currentCall?.peer === peer) {
      endCall(`${peer.name} left.`);
    }
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
  endCall('You left.'); // the other side learns from peer-left
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

// --- Calls ---------------------------------------------------------------------------------------

// Call control goes to one person through the signaling server, like an offer: {call: {type, id}}.
// The server stamps who sent it, so nobody can ring someone in another's name. The types: invite,
// accept, decline, busy, cancel and hang-up between the two people of a call, and in-call and
// call-ended to everyone else, for their lists.
function sendCall(peer, type, id) {
  signaling.send(peer.id, {call: {type, id}}).catch((error) => {
    if (currentCall?.peer === peer) {
      endCall(`Could not reach ${peer.name}: ${error.message}`);
    } // news for someone else's list is not worth an error
  });
}

// Click on Call: ring them, and nothing more until they answer.
function dial(peer) {
  if (currentCall) {
    return; // one call at a time
  }
  currentCall = {peer, id: newCallId(), caller: true, state: 'calling'};
  sendCall(peer, 'invite', currentCall.id);
  startRinging(`${peer.name} did not answer.`);
  showCall(`Calling ${peer.name}…`);
}

// 96 random bits: nobody can guess a call's id to end it.
function newCallId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

// Both sides ring for RING_TIMEOUT_MS at most. Whichever side gives up first tells the other with
// a cancel, so both stop, even if their timeouts differ.
function startRinging(text) {
  currentCall.timer = setTimeout(() => endCall(text, 'cancel'), RING_TIMEOUT_MS);
}

// What someone told us about a call. A message about a call we are not in (a late one, or a
// guess) is ignored: only an invite starts something.
function onCallMessage(peer, {type, id}) {
  if (type === 'invite') {
    onInvite(peer, id);
  } else if (type === 'in-call' || type === 'call-ended') {
    peer.inCall = type === 'in-call'; // news for our list, about their call with someone else
    showPresence(peer);
  } else if (currentCall?.peer !== peer || currentCall.id !== id) {
    return;
  } else if (type === 'accept' && currentCall.state === 'calling') {
    beginCall();
  } else if ((type === 'decline' || type === 'busy') && currentCall.state === 'calling') {
    endCall(type === 'busy' ? `${peer.name} is busy.` : `${peer.name} declined.`);
  } else if (type === 'cancel' || type === 'hang-up') {
    endCall(theyEnded[currentCall.state](peer.name));
  }
}

// A cancel ends a call in any state: it can cross our accept, or come from the callee's timeout.
const theyEnded = {
  calling: (name) => `${name} did not answer.`,
  ringing: (name) => `Missed call from ${name}.`,
  'in-call': (name) => `${name} hung up.`,
};

// Someone rings. A phone that is already in a call, or ringing, or calling, answers busy.
function onInvite(peer, id) {
  if (currentCall?.peer === peer && currentCall.state === 'calling') {
    onCrossingCalls(peer, id);
  } else if (currentCall) {
    sendCall(peer, 'busy', id);
  } else {
    currentCall = {peer, id, caller: false, state: 'ringing'};
    startRinging(`Missed call from ${peer.name}.`);
    ringer.start();
    showCall(`${peer.name} is calling you.`);
  }
}

// We rang them while they rang us: the two invites crossed. As with two offers (onDescription),
// the polite side gives way: it takes their call instead of its own and accepts it, while the
// impolite side ignores their invite and waits for that accept. One call, whoever was first.
function onCrossingCalls(peer, id) {
  if (peer.polite) {
    Object.assign(currentCall, {id, caller: false});
    accept();
  }
}

function accept() {
  sendCall(currentCall.peer, 'accept', currentCall.id);
  beginCall();
}

// The call is accepted (we clicked Accept, or the caller heard so): both sides stop ringing, and
// only now turn the camera and microphone on. Then the caller connects and the callee answers, so
// that one offer is made, not two. (Two brand-new offers crossing would be settled by perfect
// negotiation, but the polite side's rollback discards the ICE transport it has just begun to
// gather on, and Chromium then gathered no candidates at all.)
async function beginCall() {
  const accepted = currentCall;
  const peer = accepted.peer;
  clearTimeout(accepted.timer);
  ringer.stop();
  accepted.state = 'in-call';
  showCall(`In a call with ${peer.name}.`);
  announce('in-call', accepted);
  const stream = await openCamera(peer);
  if (currentCall !== accepted) {
    stream?.getTracks().forEach((track) => track.stop()); // the call ended while we asked
    return;
  }
  localStream = stream;
  localVideo.srcObject = stream;
  if (peer.connection) {
    // Made before our camera was ready (their offer was quicker, or a chat made it): the new
    // tracks fire negotiationneeded, and negotiate() sends a new offer: a renegotiation.
    addLocalTracks(peer, peer.connection);
  } else if (accepted.caller) {
    call(peer); // createConnection() adds the tracks; its first offer carries them
  } // else the caller's offer makes our connection, and our tracks go in the answer
}

// The camera and microphone, or null if refused: the call goes on, and we still see and hear them.
async function openCamera(peer) {
  try {
    return await navigator.mediaDevices.getUserMedia({video: CAMERA, audio: true});
  } catch (error) {
    const why = explainMediaError(error); // common/static/media.js
    showCall(`In a call with ${peer.name}, who cannot see or hear you: ${why}.`);
    return null;
  }
}

// Our camera and microphone go to the person we are in a call with, and to nobody else (a private
// chat with someone else makes a connection too).
function addLocalTracks(peer, pc) {
  if (currentCall?.peer === peer && localStream) {
    localStream.getTracks().forEach((track) => pc.addTrack(track, localStream));
  }
}

// ontrack fires for their camera and for their microphone, both in one stream.
function showRemoteVideo(peer, stream) {
  if (currentCall?.peer === peer && remoteVideo.srcObject !== stream) {
    remoteVideo.srcObject = stream;
  }
}

// However a call ends (hung up, declined, busy, unanswered, cancelled, a member gone, a
// connection that failed): tell the other side if `tell` says how, stop ringing, stop every
// track (the camera's light goes off) and close the connection, so the next call starts afresh.
function endCall(text, tell) {
  const call = currentCall;
  if (!call) {
    return;
  }
  if (tell) {
    sendCall(call.peer, tell, call.id);
  }
  clearTimeout(call.timer);
  ringer.stop();
  currentCall = null;
  localStream?.getTracks().forEach((track) => track.stop());
  localStream = null;
  localVideo.srcObject = null;
  remoteVideo.srcObject = null;
  if (call.state === 'in-call') {
    hangUp(call.peer); // the connection, and with it a private chat we had with them
    announce('call-ended', call);
  }
  showCall(text);
}

// Everyone else in the room sees who is in a call.
function announce(type, call) {
  peers.forEach((peer) => peer !== call.peer && sendCall(peer, type, call.id));
}

// Beside each name: our call with them, if any, or else whether they are in a call with someone.
function showPresence(peer) {
  const ours = currentCall?.peer === peer ? currentCall.state : null;
  const labels = {calling: 'calling…', ringing: 'calling you', 'in-call': 'in a call'};
  const presence = peer.item.querySelector('.presence');
  presence.textContent = labels[ours] ?? (peer.inCall ? 'in a call' : '');
  presence.hidden = !presence.textContent;
}

// The call panel: the status line, the buttons of the current state, the videos while in a call.
function showCall(text) {
  const state = currentCall?.state ?? 'idle';
  callStatus.textContent = text;
  callStatus.dataset.state = state;
  cancelButton.hidden = state !== 'calling';
  acceptButton.hidden = declineButton.hidden = state !== 'ringing';
  hangUpButton.hidden = state !== 'in-call';
  callVideos.hidden = state !== 'in-call';
  remoteTile.dataset.peerName = currentCall?.peer.name ?? '';
  remoteTile.querySelector('.tile-name').textContent = currentCall?.peer.name ?? '';
  peers.forEach((peer) => {
    peer.item.querySelector('.call-button').disabled = currentCall !== null;
    showPresence(peer);
  });
}
