'use strict';

// Small page helpers shared by the steps; nothing here is about WebRTC.

const ANIMALS = ['Otter', 'Heron', 'Lynx', 'Puffin', 'Badger', 'Gecko', 'Marten', 'Ibis', 'Koala', 'Tapir'];

function randomName() {
  const animal = ANIMALS[Math.floor(Math.random() * ANIMALS.length)];
  return `${animal}-${Math.floor(Math.random() * 90) + 10}`;
}

// The room comes from ?room=..., so a shared link puts people together.
function roomFromUrl(fallback = 'demo') {
  return new URLSearchParams(window.location.search).get('room') || fallback;
}

// Adds a line to a chat log. Text goes through textContent: a message is never parsed as HTML.
function appendLine(log, text, kind = 'message') {
  const line = document.createElement('li');
  line.className = kind;
  line.textContent = text;
  log.append(line);
  log.scrollTop = log.scrollHeight;
  return line;
}

// Chat messages are bounded: the data channel has a maximum message size (the answer's
// a=max-message-size), and a chat line of a novel's length helps nobody.
const MAX_MESSAGE_CHARS = 2000;

function messageTooLong(text) {
  return text.length > MAX_MESSAGE_CHARS
    ? `Messages are limited to ${MAX_MESSAGE_CHARS} characters; this one has ${text.length}.`
    : null;
}
