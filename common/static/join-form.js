'use strict';

// The join form of steps 2 to 12: the name and room fields, Join and Leave, why a join was refused,
// and the signaling badge. Plumbing: what joining and leaving *do* is the step's own join(room,
// name) and leave() in its main.js, which this calls.
//
// Elements with the class `while-joined` (a step's mute buttons, say) are enabled only while the
// page is in a room.

function setUpJoinForm(signaling, {join, leave, log = null, roomFullHint = ''}) {
  const form = document.querySelector('#join-form');
  const nameInput = document.querySelector('#name');
  const roomInput = document.querySelector('#room');
  const leaveButton = document.querySelector('#leave');
  const joinError = document.querySelector('#join-error');
  const badge = document.querySelector('#signaling-state');
  let joined = false;

  const showJoined = (state) => {
    joined = state === 'joined';
    for (const element of form.elements) {
      element.disabled = element === leaveButton ? !joined : state !== 'out';
    }
    document.querySelectorAll('.while-joined').forEach((element) => {
      element.disabled = !joined;
    });
  };
  const notice = (text, kind = 'notice') => log && appendLine(log, text, kind);

  nameInput.value = nameFromUrl();
  roomInput.value = roomFromUrl();
  showJoined('out');
  form.onsubmit = async (event) => {
    event.preventDefault();
    joinError.textContent = '';
    showJoined('joining');
    try {
      await join(roomInput.value.trim(), nameInput.value.trim());
      showJoined('joined');
    } catch (error) {
      showJoined('out');
      joinError.textContent = explainJoinError(error, roomFullHint);
    }
  };
  leaveButton.onclick = () => {
    leave();
    showJoined('out');
    notice('You left the room.');
  };

  signaling.on('connect', () => showBadge(badge, 'connected'));
  signaling.on('disconnect', () => {
    showBadge(badge, signaling.reconnecting ? 'reconnecting' : 'disconnected');
    if (joined) {
      notice('Lost the signaling server; trying to reconnect…');
    }
  });
  signaling.on('rejoined', () => notice('Signaling is back: rejoined the room.'));
  signaling.on('rejoin-failed', (error) => {
    leave();
    showJoined('out');
    joinError.textContent = `Could not rejoin the room: ${error.message}. Join again.`;
  });
}

function explainJoinError(error, roomFullHint) {
  switch (error.code) {
    case 'room-full':
      // The server's message says how many a room holds, as in "the room is full (4 members)".
      return `${capitalized(error.message)}. ${roomFullHint} Pick another room name.`;
    case 'name-taken':
      return 'Someone in this room already uses that name. Pick another one.';
    default:
      return `Could not join: ${error.message}`;
  }
}

function capitalized(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
