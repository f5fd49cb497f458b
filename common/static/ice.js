'use strict';

// ICE plumbing: the RTCConfiguration of every connection the pages make, and, for step 7, the
// timer that decides when a connection needs an ICE restart and what to say when even that fails.
// What a restart *is* is taught in step 7 (restartIce in its main.js); this only says when to call
// it. Step 7's small helpers are here too: reading a TURN username's expiry, writing an address the
// same way in every browser, and the advice for a STUN or TURN server's error code. And for the
// pages that talk to aiortc (step 6 on), which takes no trickled candidates:
// iceGatheringComplete().
//
// A connection that fails, or does not come up within ?iceTimeout=MS (15 s by default), gets one
// restart; if it still does not come up, the page gives up on it.

const PAGE_OPTIONS = new URLSearchParams(window.location.search);
const ICE_TIMEOUT_MS = Number(PAGE_OPTIONS.get('iceTimeout')) || 15000;
const RELAY_ONLY = PAGE_OPTIONS.get('relay') === '1';

// The RTCConfiguration for a new peer connection. ?relay=1 allows only TURN relay candidates,
// to show what a relayed call looks like (and that without a TURN server there is none).
function peerConfiguration(iceServers) {
  return {iceServers, iceTransportPolicy: RELAY_ONLY ? 'relay' : 'all'};
}

// Calls restart() once when `pc` fails or is slow to connect, then giveUp() if that did not help.
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

// Resolves once `pc` has gathered all its candidates, so that its local description holds them
// all: for a peer that takes no trickled candidates (aiortc, from step 6 on; a WHIP server).
function iceGatheringComplete(pc) {
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', check);
    check();
  });
}


// What to tell a learner whose connection never came up, given the ICE servers it had;
// `relayOnly` says how the page was told to use relayed candidates only ('' if it was not).
function iceFailureAdvice(iceServers, relayOnly = RELAY_ONLY ? '?relay=1' : '') {
  const urls = iceServers.flatMap((server) => [server.urls].flat());
  const hasTurn = urls.some((url) => /^turns?:/.test(url));
  if (relayOnly && !hasTurn) {
    return `This page allows relayed candidates only (${relayOnly}), and the server hands out no ` +
      'TURN server: start one with `make turn` and run the step with the settings it prints, ' +
      'or allow direct candidates again. See docs/troubleshooting.md.';
  }
  if (!hasTurn) {
    return 'No direct path was found between you. On one network, check that both are on it and ' +
      'that the Wi-Fi does not isolate clients; across networks, a TURN server is needed ' +
      '(`make turn`). See docs/troubleshooting.md.';
  }
  return 'Not even the TURN server could relay: check its address and secret ' +
    '(docs/troubleshooting.md).';
}

// Step 7: the expiry written in our TURN username, "<Unix time>:<member id>" (common/ice.py).
function expiryOf(server) {
  return new Date(Number(server.username.split(':')[0]) * 1000);
}

// Chromium writes IPv6 addresses in brackets, Firefox and getStats() without.
function endpoint(address, port) {
  return `${address?.replace(/^\[(.*)\]$/, '$1')}:${port}`;
}

// Step 7: what to say when a STUN or TURN server answered a candidate request with an error.
function candidateErrorAdvice(errorCode, iceServers) {
  const turn = iceServers.find((server) => server.username);
  if (errorCode === 401 && turn && expiryOf(turn) < new Date()) {
    const at = expiryOf(turn).toLocaleTimeString();
    return `our TURN credentials expired at ${at}. Leave and join again for new ones.`;
  }
  if (errorCode === 401) {
    return 'the TURN server refused our credentials. Is the signaling server\'s TURN_SECRET the ' +
      'TURN server\'s secret?';
  }
  if (errorCode === 701) {
    return 'no answer. Is the server running, and reachable from here? A firewall that blocks ' +
      'UDP still lets TURN over TCP or TLS on port 443 through.';
  }
  return 'the server refused this request (see its log).';
}
