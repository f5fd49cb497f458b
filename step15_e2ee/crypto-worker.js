'use strict';

// Step 15's worker: every encoded frame this page sends or receives passes through here, on its
// way from the encoder to the network (encrypt) or from the network to the decoder (decrypt).
// The page gives it the room's key; the key never leaves the page and this worker.
//
// A frame on the wire (after encrypt):
//
//   | codec bytes, clear | key id | counter | the rest of the frame, encrypted | tag |
//   | 10, 3 or 1 bytes   | 8      | 8       | same length as before            | 16  |
//
// The first bytes of the codec's frame stay clear, so that the forwarding server (and the
// receiving browser's depacketizer) can still tell a VP8 keyframe and read its picture size; they
// are authenticated all the same (AES-GCM's additional data), so nobody can change them unseen.
// The key id and counter follow SFrame (RFC 9605) in spirit: each page encrypts with a key of its
// own, derived from the room's key and a random key id, and numbers its frames, so the IV (the
// counter) never repeats for a key. The keys:
//
//   room key (from the page: PBKDF2 of the passphrase, the same in every page of the room)
//     -> HKDF with a key id -> a frame key: this page's own, for its frames; the others derive
//        the same one from the key id each frame carries.

const CLEAR_BYTES = {key: 10, delta: 3, audio: 1};
const HEADER_BYTES = 16;
const TAG_BYTES = 16;
const OVERLAP_MS = 5000; // how long frames under the previous room key still decrypt
const KEY_IDS_KEPT = 64; // frame keys cached per room key: made-up key ids cannot fill memory

let currentKey = null; // {base: the room key, keyId, sendKey: our frame key, counter}
let previousKey = null; // the one before the last re-key, for OVERLAP_MS
const receiveKeys = new Map(); // room key -> Map(key id hex -> frame key promise)
let keyChanges = Promise.resolve(); // one after the other: the last key given wins

onmessage = ({data}) => {
  if (data.type === 'key') {
    keyChanges = keyChanges.then(() => setRoomKey(data.key));
  }
};

// A new room key (the first, or a changed passphrase): a new key id, a new sending key, and the
// counter from zero. The old key still decrypts for a moment, while the others change theirs.
async function setRoomKey(base) {
  const keyId = crypto.getRandomValues(new Uint8Array(8));
  const sendKey = await frameKey(base, keyId);
  if (currentKey) {
    const replaced = (previousKey = currentKey);
    setTimeout(() => {
      if (previousKey === replaced) {
        previousKey = null;
        receiveKeys.delete(replaced.base);
      }
    }, OVERLAP_MS);
  }
  currentKey = {base, keyId, sendKey, counter: 0n};
}

// Each key id gets its own AES-GCM key from the room's: HKDF, the key id as salt.
function frameKey(base, keyId) {
  return crypto.subtle.deriveKey(
      {name: 'HKDF', hash: 'SHA-256', salt: keyId, info: new TextEncoder().encode('step15 frame')},
      base, {name: 'AES-GCM', length: 128}, false, ['encrypt', 'decrypt']);
}

// RTCRtpScriptTransform: one per sender and per receiver, all in this worker. `options` is what
// main.js gave as the second argument of new RTCRtpScriptTransform(worker, options).
onrtctransform = ({transformer}) => {
  const {operation, kind, receiverId} = transformer.options;
  const step = operation === 'encrypt' ?
    (frame) => encrypt(frame, kind) :
    (frame) => decrypt(frame, kind, receiverId, transformer);
  transformer.readable
      .pipeThrough(new TransformStream({transform: async (frame, out) => {
        if (await step(frame)) {
          out.enqueue(frame);
        } // else dropped: its decoder never sees it
      }}))
      .pipeTo(transformer.writable);
};

// A video frame's type is 'key' or 'delta' (set by the encoder, or by the receiving browser from
// the clear first byte); an audio frame has none. A frame shorter than that keeps all its bytes
// clear, which both sides agree on: the sender by its length, the receiver by its length less
// the header and tag.
function clearBytes(frame, kind, length) {
  const wanted = kind === 'audio' ? CLEAR_BYTES.audio : CLEAR_BYTES[frame.type] ?? CLEAR_BYTES.delta;
  return Math.min(wanted, length);
}

async function encrypt(frame, kind) {
  if (!currentKey) {
    return false; // no key yet: send nothing rather than clear frames
  }
  const key = currentKey;
  const counter = key.counter++; // taken before any await: no two frames share it
  const data = new Uint8Array(frame.data);
  const clear = clearBytes(frame, kind, data.length);
  const header = new Uint8Array(clear + HEADER_BYTES);
  header.set(data.subarray(0, clear));
  header.set(key.keyId, clear);
  new DataView(header.buffer).setBigUint64(clear + 8, counter);
  const sealed = await crypto.subtle.encrypt(
      {name: 'AES-GCM', iv: iv(counter), additionalData: header}, key.sendKey, data.subarray(clear));
  const out = new Uint8Array(header.length + sealed.byteLength);
  out.set(header);
  out.set(new Uint8Array(sealed), header.length);
  frame.data = out.buffer;
  return true;
}

// 96 bits: the 64-bit counter, after 4 zero bytes. Unique per key, since each key id's key counts
// its own frames.
function iv(counter) {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setBigUint64(4, counter);
  return bytes;
}

async function decrypt(frame, kind, receiverId, transformer) {
  const data = new Uint8Array(frame.data);
  const clear = clearBytes(frame, kind, data.length - HEADER_BYTES - TAG_BYTES);
  const ok = clear >= 0 && await openFrame(frame, data, clear);
  report(receiverId, ok, transformer);
  return ok;
}

// Tries the room key, then the previous one during the overlap. False if neither opens it: a
// page with another passphrase, or a frame that was never encrypted.
async function openFrame(frame, data, clear) {
  const header = data.subarray(0, clear + HEADER_BYTES);
  const keyId = data.subarray(clear, clear + 8);
  const counter = new DataView(data.buffer, data.byteOffset).getBigUint64(clear + 8);
  for (const key of [currentKey, previousKey]) {
    if (!key) {
      continue;
    }
    try {
      const opened = await crypto.subtle.decrypt(
          {name: 'AES-GCM', iv: iv(counter), additionalData: header},
          await receiveKey(key.base, keyId), data.subarray(clear + HEADER_BYTES));
      const out = new Uint8Array(clear + opened.byteLength);
      out.set(data.subarray(0, clear));
      out.set(new Uint8Array(opened), clear);
      frame.data = out.buffer;
      return true;
    } catch {
      // not this key: try the next
    }
  }
  return false;
}

function receiveKey(base, keyId) {
  if (!receiveKeys.has(base)) {
    receiveKeys.set(base, new Map());
  }
  const keys = receiveKeys.get(base);
  const hex = Array.from(keyId, (byte) => byte.toString(16).padStart(2, '0')).join('');
  if (!keys.has(hex)) {
    if (keys.size >= KEY_IDS_KEPT) {
      keys.delete(keys.keys().next().value); // the oldest
    }
    keys.set(hex, frameKey(base, keyId.slice()));
  }
  return keys.get(hex);
}

// The page hears when a receiver starts or stops being able to decrypt, not about every frame.
// When it starts again, the decoder has missed frames: ask the sender for a keyframe.
const lastReport = new Map();
function report(receiverId, ok, transformer) {
  if (lastReport.get(receiverId) === ok) {
    return;
  }
  lastReport.set(receiverId, ok);
  postMessage({type: 'decrypt', receiverId, ok});
  if (ok) {
    transformer.sendKeyFrameRequest?.().catch(() => {});
  }
}
