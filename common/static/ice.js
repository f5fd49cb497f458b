'use strict';

// ICE helpers shared by steps 2 to 5: the RTCConfiguration, and recovery from ICE failure.
//
// A connection that fails (or never gets connected) gets one ICE restart: new ICE credentials,
// fresh candidates, the same connection. If that does not bring it back either, the page gives up
// on it and cleans it up. ?iceTimeout=MS sets how long to wait before deciding that a connection
// will not come up.

const ICE_TIMEOUT_MS = Number(new URLSearchParams(window.location.search).get('iceTimeout')) || 15000;

// The RTCConfiguration for a new peer connection. ?relay=1 allows only TURN relay candidates,
// to show what a relayed call looks like (and that without a TURN server there is none).
function peerConfiguration(iceServers) {
  const relayOnly = new URLSearchParams(window.location.search).get('relay') === '1';
  return {iceServers, iceTransportPolicy: relayOnly ? 'relay' : 'all'};
}

// restart() is the step's way to restart ICE (the offerer restarts; the answerer waits for the
// new offer); giveUp() closes and cleans up.
function superviseConnection(pc, {restart, giveUp}) {
  let restarted = false;
  let timer = null;

  const fail = () => {
    clearTimeout(timer);
    if (pc.signalingState === 'closed') {
      return;
    }
    if (restarted) {
      giveUp();
      return;
    }
    restarted = true;
    restart();
    timer = setTimeout(check, ICE_TIMEOUT_MS);
  };
  const check = () => pc.connectionState !== 'connected' && fail();

  pc.addEventListener('connectionstatechange', () => {
    if (pc.connectionState === 'connected') {
      clearTimeout(timer);
      restarted = false;
    } else if (pc.connectionState === 'failed') {
      fail();
    } else if (pc.connectionState === 'disconnected') {
      // Often a short glitch that ICE repairs by itself: give it some time first.
      clearTimeout(timer);
      timer = setTimeout(check, ICE_TIMEOUT_MS);
    }
  });
  timer = setTimeout(check, ICE_TIMEOUT_MS);
}
