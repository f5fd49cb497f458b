'use strict';

// Step 1's call, split across two browsers: each page now holds one end, one RTCPeerConnection.
// What step 1 handed from one connection to the other by hand (the offer, the answer and the ICE
// candidates) now travels as 'signal' messages through a signaling server (socket.io, server.py):
// sendSignal() out, onSignal() in. Once the connection is up, chat messages go peer to peer over
// the data channel and the server never sees them. (Step 1's SDP and candidate boxes are gone: the
// signals show in the developer tools, Network → socket.io → Messages.)
//
// New in this step: files. A second data channel carries them in chunks, peer to peer; like any
// data channel unless told otherwise, it is reliable and ordered, so the chunks arrive whole and
// in order. The sender never lets more than HIGH_WATER_BYTES wait in the channel's buffer
// (backpressure), and both sides show the progress. A SHA-256 of the whole file, compared at the
// end, proves the copy: the channel already delivers every byte, so what the hash checks is our
// own chunking and reassembly.

const chatLog = document.querySelector('#log');
const peerLabel = document.querySelector('#peer-name');
const connectionState = document.querySelector('#connection-state');
const sendForm = document.querySelector('#send-form');
const messageInput = document.querySelector('#message');
const sendButton = document.querySelector('#send');
const statsPanels = document.querySelector('#stats');
const fileInput = document.querySelector('#files');
const sendFilesButton = document.querySelector('#send-files');
const transferList = document.querySelector('#transfers');

// Chunks fit in one message in any browser (and in aiortc, step 6's Python peer: 64 KiB). The
// sender queues chunks until HIGH_WATER_BYTES wait in the channel, then waits for the channel to
// drain to LOW_WATER_BYTES (the bufferedamountlow event) before it queues more.
const CHUNK_BYTES = 64 * 1024;
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;

const signaling = new Signaling();

// The other members of the room, by member id: {id, name, connection, channel, ...}. A step 2
// room holds two people, so there is at most one; later steps keep the same map with more.
const peers = new Map();
let iceServers = [];

setUpJoinForm(signaling, {join, leave, log: chatLog, roomFullHint: 'A call here is for two.'});
sendForm.onsubmit = (event) => {
  event.preventDefault();
  sendMessage();
};
sendFilesButton.onclick = sendFiles;

signaling.on('peer-joined', onPeerJoined);
signaling.on('peer-left', onPeerLeft);
signaling.on('signal', onSignal);
// After a server restart the page rejoins by itself (common/static/signaling.js). Anyone who
// came in meanwhile is in this ack's peers, as in our first one.
signaling.on('rejoined', onJoined);

async function join(room, name) {
  const ack = await signaling.join(room, name);
  appendLine(chatLog, `You joined room ${room} as ${name}.`, 'notice');
  if (ack.peers.length === 0) {
    appendLine(chatLog, 'Waiting for someone to join this room…', 'notice');
  }
  onJoined(ack);
}

// The ack lists the members already here, and the ICE servers to use (none on a LAN).
function onJoined(ack) {
  iceServers = ack.iceServers;
  // We are the newcomer: only we know, right now, that there is someone to call.
  ack.peers.map(addPeer).forEach(call);
}

// The member who was here first waits for the newcomer's offer.
function onPeerJoined(member) {
  const peer = addPeer(member);
  appendLine(peer.log, `${peer.name} joined; waiting for their offer.`, 'notice');
}

function addPeer({id, name}) {
  const peer = {id, name, connection: null, channel: null};
  // The files channel, the file coming in, and the files going out, one after another.
  Object.assign(peer, {files: null, incoming: null, outgoing: null, queue: Promise.resolve()});
  // Where this page shows what happens with this peer: one log and one badge, in this step.
  peer.log = chatLog;
  peer.badge = connectionState;
  peers.set(id, peer);
  showBadge(peerLabel, name);
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
  // Files get a channel of their own, so a long transfer never holds up a chat message.
  setUpFileChannel(peer, pc.createDataChannel('files', {negotiated: true, id: 1}));
  watchStats(pc, statsPanels, peer.name); // its getStats(), live, in the stats panel
  showBadge(peer.badge, pc.connectionState);
  return pc;
}

// Fired when the connection has something new to agree on: here, the data channel. With no
// argument, setLocalDescription() creates the offer and applies it.
async function negotiate(peer) {
  const pc = peer.connection;
  try {
    await pc.setLocalDescription();
    appendLine(peer.log, `Sent an offer to ${peer.name}.`, 'notice');
    await sendSignal(peer, {description: pc.localDescription});
  } catch (error) {
    appendLine(peer.log, `Could not make an offer to ${peer.name}: ${error.message}`, 'error');
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

async function onDescription(peer, description) {
  const pc = peer.connection;
  await pc.setRemoteDescription(description);
  if (description.type === 'offer') {
    await pc.setLocalDescription(); // creates the answer
    appendLine(peer.log, `Answered ${peer.name}'s offer.`, 'notice');
    await sendSignal(peer, {description: pc.localDescription});
  }
}

// A candidate may come while the description before it is still being applied:
// addIceCandidate() waits for that.
async function onCandidate(peer, candidate) {
  await peer.connection.addIceCandidate(candidate);
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

function setUpFileChannel(peer, channel) {
  peer.files = channel;
  channel.binaryType = 'arraybuffer';
  channel.bufferedAmountLowThreshold = LOW_WATER_BYTES;
  channel.onopen = updateChat;
  channel.onclose = updateChat;
  channel.onmessage = (event) => onFileMessage(peer, event.data);
}

// Each chosen file goes to each peer, one file after another.
function sendFiles() {
  for (const peer of peers.values()) {
    for (const file of fileInput.files) {
      peer.queue = peer.queue.then(() => sendFile(peer, file));
    }
  }
  fileInput.value = '';
  updateChat();
}

// The protocol: {type: 'file', id, name, size}, the bytes in binary chunks, then
// {type: 'end', id, sha256}; the receiver answers {type: 'received', id, sha256}. Either side may
// send {type: 'cancel', id} at any time. Only the first three carry the file; 'received' and
// 'cancel' are the courtesies around it.
async function sendFile(peer, file) {
  // A random id: both sides send files, and a cancel must name one file only.
  const transfer = newTransfer(peer, {id: crypto.randomUUID(), name: file.name, size: file.size});
  peer.outgoing = transfer;
  try {
    await sendControl(peer, {type: 'file', id: transfer.id, name: file.name, size: file.size});
    // The SCTP transport that carries every data channel says how large one message may be.
    const chunkBytes = Math.min(CHUNK_BYTES, peer.connection.sctp.maxMessageSize);
    for (let offset = 0; offset < file.size && !transfer.done; offset += chunkBytes) {
      const chunk = await file.slice(offset, offset + chunkBytes).arrayBuffer();
      await sendWhenRoom(peer, chunk);
      // Queued, not yet delivered: the receiver's bar is the true one.
      transfer.row.show(offset + chunk.byteLength, `sending to ${peer.name}`);
    }
    if (!transfer.done) {
      transfer.sha256 = await sha256(file);
      await sendControl(peer, {type: 'end', id: transfer.id, sha256: transfer.sha256});
      transfer.row.show(file.size, `sent; waiting for ${peer.name}'s SHA-256`);
      await transfer.finished;
    }
  } catch (error) {
    if (!transfer.done) {
      endTransfer(transfer, `failed: ${error.message}`, 'error');
    }
  }
  peer.outgoing = null;
}

// Backpressure: whatever goes on the files channel waits while the buffer is too full to take it
// without passing HIGH_WATER_BYTES, until the channel has drained to its low-water mark.
async function sendWhenRoom(peer, data) {
  const channel = peer.files;
  const bytes = typeof data === 'string' ? new Blob([data]).size : data.byteLength;
  if (channel?.readyState === 'open' && channel.bufferedAmount + bytes > HIGH_WATER_BYTES) {
    await drained(channel);
  }
  if (channel?.readyState !== 'open') {
    throw new Error(`the files channel to ${peer.name} is closed`);
  }
  channel.send(data);
}

// Resolves once the channel's buffer is down to its bufferedAmountLowThreshold (or it closed).
// Whichever comes first removes both listeners, so that none pile up over a long file.
function drained(channel) {
  return new Promise((resolve) => {
    const listening = new AbortController();
    const done = () => {
      listening.abort();
      resolve();
    };
    channel.addEventListener('bufferedamountlow', done, {signal: listening.signal});
    channel.addEventListener('close', done, {signal: listening.signal});
  });
}

function sendControl(peer, message) {
  return sendWhenRoom(peer, JSON.stringify(message));
}

// Text is a control message, binary a chunk: the channel is ordered, so the chunks come between
// their file's 'file' and 'end'.
function onFileMessage(peer, data) {
  if (typeof data !== 'string') {
    receiveChunk(peer, data);
    return;
  }
  const message = parseJson(data) ?? {};
  const handlers = {file: startIncoming, end: finishIncoming, received: onReceived, cancel: onCancel};
  handlers[message.type]?.(peer, message);
}

// What the other side sends is untrusted input: a name is cut short, a size must be a number.
// The chunks are kept in memory until the end: fine for a demo, not for gigabytes.
function startIncoming(peer, {id, name, size}) {
  if (peer.incoming || typeof name !== 'string' || !Number.isSafeInteger(size) || size < 0) {
    return; // one file at a time, as announced: anything else is not our protocol
  }
  peer.incoming = newTransfer(peer, {id, name: name.slice(0, 255), size});
  peer.incoming.chunks = [];
  peer.incoming.received = 0;
}

// Chunks of a file cancelled a moment ago may still arrive: with no file coming in, they drop.
function receiveChunk(peer, chunk) {
  const transfer = peer.incoming;
  if (!transfer) {
    return;
  }
  transfer.chunks.push(chunk);
  transfer.received += chunk.byteLength;
  if (transfer.received > transfer.size) {
    cancelTransfer(transfer, `cancelled: ${peer.name} sent more than the size announced`);
    return;
  }
  transfer.row.show(transfer.received, `receiving from ${peer.name}`);
}

async function finishIncoming(peer, {id, sha256: theirs}) {
  const transfer = peer.incoming;
  if (transfer?.id !== id) {
    return;
  }
  peer.incoming = null;
  const blob = new Blob(transfer.chunks);
  transfer.sha256 = await sha256(blob);
  if (transfer.done) {
    return; // cancelled while we hashed
  }
  sendControl(peer, {type: 'received', id, sha256: transfer.sha256}).catch(() => {});
  let verdict = transfer.sha256 === theirs ? 'matches' : `does not match theirs (${theirs})`;
  if (transfer.received !== transfer.size) {
    verdict = `incomplete: ${transfer.received} of ${transfer.size} bytes`;
  }
  const intact = verdict === 'matches';
  endTransfer(transfer, `received, SHA-256 ${transfer.sha256}: ${verdict}`, intact ? 'done' : 'error');
  if (intact) {
    transfer.row.offerDownload(blob, transfer.name); // only a file known to be whole
  }
}

function onReceived(peer, {id, sha256: theirs}) {
  const transfer = peer.outgoing;
  if (transfer?.id === id) {
    const intact = theirs === transfer.sha256;
    const verdict = intact ? 'matches' : 'does not match ours';
    const status = `sent, SHA-256 ${transfer.sha256}: ${peer.name}'s copy ${verdict}`;
    endTransfer(transfer, status, intact ? 'done' : 'error');
  }
}

function onCancel(peer, {id}) {
  const transfer = [peer.incoming, peer.outgoing].find((t) => t?.id === id);
  if (transfer) {
    endTransfer(transfer, `cancelled by ${peer.name}`);
  }
}

// Cancel on our side: stop sending or drop what came in, and tell the other side (if the channel
// is gone, there is nobody to tell).
function cancelTransfer(transfer, status = 'cancelled by you') {
  endTransfer(transfer, status);
  sendControl(transfer.peer, {type: 'cancel', id: transfer.id}).catch(() => {});
}

// A transfer, with its row in the list (common/static/transfers.js) and a promise that settles
// when it ends, however it ends.
function newTransfer(peer, {id, name, size}) {
  const transfer = {id, name, size, peer, done: false};
  transfer.row = transferRow(transferList, name, size, () => cancelTransfer(transfer));
  transfer.finished = new Promise((resolve) => {
    transfer.resolve = resolve;
  });
  return transfer;
}

function endTransfer(transfer, status, kind = 'done') {
  transfer.done = true;
  if (transfer.peer.incoming === transfer) {
    transfer.peer.incoming = null;
  }
  transfer.row.end(status, kind);
  transfer.resolve();
}

// The text goes out on the channel to our peer: peer to peer, no server in between.
function sendMessage() {
  const text = messageToSend(messageInput, chatLog); // null if blank or too long for a message
  const [peer] = peers.values(); // a room of two: the other one, if there is one
  if (!text || peer?.channel?.readyState !== 'open') {
    return;
  }
  peer.channel.send(text);
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
  showBadge(peerLabel, 'nobody yet');
}

function hangUp(peer) {
  peer.channel?.close();
  peer.files?.close();
  peer.connection?.close();
  for (const transfer of [peer.incoming, peer.outgoing]) {
    if (transfer && !transfer.done) {
      endTransfer(transfer, 'stopped: the connection closed', 'error');
    }
  }
  peer.channel = null;
  peer.files = null;
  peer.connection = null;
  // close() fires no connectionstatechange, so show the state ourselves.
  showBadge(peer.badge, 'closed');
  updateChat();
}

function leave() {
  peers.forEach(removePeer);
  signaling.leave(); // the others get peer-left
}

function updateChat() {
  const [peer] = peers.values();
  const open = peer?.channel?.readyState === 'open';
  messageInput.disabled = !open;
  sendButton.disabled = !open;
  const filesOpen = [...peers.values()].some((peer) => peer.files?.readyState === 'open');
  fileInput.disabled = !filesOpen;
  sendFilesButton.disabled = !filesOpen;
}
