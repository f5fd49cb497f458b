'use strict';

// Words for what getUserMedia() refused, our own tile, and playing the others' videos, shared by
// the camera steps. Plumbing: asking for the camera and using its tracks is the lesson, in each
// step's main.js.

function explainMediaError(error) {
  if (!window.isSecureContext) {
    return 'this page is not secure; cameras need https:// or http://localhost';
  }
  switch (error.name) {
    case 'NotAllowedError':
      return 'permission was refused (allow it in the site settings next to the address bar, ' +
        'then leave and join again)';
    case 'NotFoundError':
      return 'no such device was found';
    case 'NotReadableError':
      return 'the device is in use by another program';
    default:
      return `${error.name}: ${error.message}`;
  }
}

// "No camera: permission was refused. You join anyway ..., but the others can hear you but not
// see you." for a `stream` that lacks what was asked for.
function describeMissingMedia(stream, wantCamera, error) {
  const noCamera = wantCamera && stream.getVideoTracks().length === 0;
  const noMic = stream.getAudioTracks().length === 0;
  const what = [noCamera && 'camera', noMic && 'microphone'].filter(Boolean).join(' and ');
  const seen = wantCamera && !noCamera;
  const consequence = noMic ?
    (seen ? 'the others cannot hear you' : 'the others can neither see nor hear you') :
    'the others can hear you but not see you';
  return `No ${what}: ${explainMediaError(error)}. You join anyway and see and hear the ` +
    `others, but ${consequence}.`;
}

// When getUserMedia() refused a page's first request (with `error`): the microphone alone, then,
// if wanted, the camera alone (`camera`: its constraints). Returns what it got, an empty stream
// if nothing, and the sentence saying what is missing.
async function openWhatRemains(wantCamera, camera, error) {
  const attempts = wantCamera ? [{audio: true}, {video: camera}] : [];
  let stream = new MediaStream();
  for (const constraints of attempts) {
    try {
      stream = await navigator.mediaDevices.getUserMedia(constraints);
      break;
    } catch {
      // not this one either
    }
  }
  return {stream, missing: describeMissingMedia(stream, wantCamera, error)};
}

// "muted · camera off", or '' when both are on.
function describeState({mic, camera}) {
  return [!mic && 'muted', !camera && 'camera off'].filter(Boolean).join(' · ');
}

let previewTrack = null; // the video track our own tile shows

// Our own tile and the two toggle buttons, from the tracks of our stream (null: not joined).
// Step 14 says `idle` ('not live') for null, and `picture` 'screen' when it sends a screen.
function showLocalMedia(stream, {idle = 'not joined', picture = 'camera'} = {}) {
  const on = (kind) => stream?.getTracks().some((t) => t.kind === kind && t.enabled) ?? false;
  const hasMic = stream?.getAudioTracks().length > 0;
  const video = document.querySelector('#local-video');
  const preview = stream?.getVideoTracks().length > 0 ? stream : null;
  const track = preview?.getVideoTracks()[0] ?? null;
  // Set again only for a new picture (another stream, or a screen in the camera's place): the
  // element takes up a new track only then, and setting it otherwise would restart the preview.
  if (video.srcObject !== preview || previewTrack !== track) {
    video.srcObject = preview;
    previewTrack = track;
  }
  document.querySelector('#local-tile').dataset.camera = on('video') ? 'on' : 'off';
  document.querySelector('#local-status').textContent = stream ?
    describeState({mic: on('audio'), camera: on('video')}) : idle;
  const [mic, camera] = ['#mic-toggle', '#camera-toggle'].map((id) => document.querySelector(id));
  if (!stream) {
    [mic.textContent, camera.textContent] = ['Mute microphone', `Turn ${picture} off`];
    return; // disabled until there is something to turn off
  }
  showToggle(mic, on('audio'), 'Mute microphone', hasMic ? 'Unmute microphone' : 'Turn microphone on');
  showToggle(camera, on('video'), `Turn ${picture} off`, `Turn ${picture} on`);
}

function showToggle(button, on, whenOn, whenOff) {
  button.textContent = on ? whenOn : whenOff;
  button.setAttribute('aria-pressed', String(!on));
}

// Plays a video that has sound. The autoplay policy lets it play because the user clicked Join on
// this page; should the browser refuse, it plays muted and `unmuteButton` appears, to unmute it.
function playWithSound(video, unmuteButton) {
  unmuteButton.onclick = () => {
    video.muted = false;
    unmuteButton.hidden = true;
  };
  video.play().catch((error) => {
    if (error.name === 'NotAllowedError') {
      video.muted = true;
      unmuteButton.hidden = false;
      video.play();
    } // else AbortError: a newer srcObject replaced this one and plays instead
  });
}

// Step 9: a screen picker's refusals, in words; the rest is explainMediaError()'s.
function explainScreenError(error) {
  if (!window.isSecureContext) {
    return explainMediaError(error);
  }
  switch (error.name) {
    case 'NotAllowedError':
      return 'the picker was closed without choosing, or sharing is blocked for this site';
    case 'InvalidStateError': // Firefox and Safari: no click on this page just before
      return 'the browser shares a screen only right after a click on this page';
    case 'TypeError': // no navigator.mediaDevices.getDisplayMedia
      return 'this browser cannot share a screen (phone browsers cannot)';
    default:
      return explainMediaError(error);
  }
}
