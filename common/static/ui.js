'use strict';

// Small page helpers shared by the steps; nothing here is about WebRTC.

const ANIMALS = [
  'Otter', 'Heron', 'Lynx', 'Puffin', 'Badger', 'Gecko', 'Marten', 'Ibis', 'Koala', 'Tapir',
];

function randomName() {
  const animal = ANIMALS[Math.floor(Math.random() * ANIMALS.length)];
  return `${animal}-${Math.floor(Math.random() * 90) + 10}`;
}

// The name comes from ?name=... if the link has one (the READMEs' Ann and Bob: /?name=Ann), or is
// made up, so that two tabs never start with the same one.
function nameFromUrl() {
  const name = new URLSearchParams(window.location.search).get('name')?.trim();
  return name?.slice(0, 32) || randomName();
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
  if (!log.dataset.watched) {
    log.dataset.watched = 'yes';
    log.addEventListener('scroll', () => showScrolled(log));
  }
  showScrolled(log);
  return line;
}

// A log scrolled down fades its top edge (style.css), so that a line cut by the edge reads as
// "more above" rather than as a broken line.
function showScrolled(log) {
  log.classList.toggle('scrolled', log.scrollTop > 0);
}

// JSON.parse, or null for text that is not JSON (messages from other pages are not trusted).
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// A small label whose colour follows its text (style.css): connected, failed, closed...
function showBadge(badge, text) {
  badge.textContent = text;
  badge.dataset.state = text;
}

// Chat messages are bounded: the data channel has a maximum message size (the answer's
// a=max-message-size), and a chat line of a novel's length helps nobody.
const MAX_MESSAGE_CHARS = 2000;

// The text to send from a chat box, or null: a blank message is not sent, and an overlong one is
// refused with a line in the log (the text stays in the box, to shorten).
function messageToSend(input, log) {
  const text = input.value;
  if (!text.trim()) {
    return null;
  }
  if (text.length > MAX_MESSAGE_CHARS) {
    const limit = `Messages are limited to ${MAX_MESSAGE_CHARS} characters`;
    appendLine(log, `${limit}; this one has ${text.length}.`, 'error');
    return null;
  }
  return text;
}
