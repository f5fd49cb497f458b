'use strict';

// A live view of what a peer connection is doing, refreshed every second from getStats() once it
// is connected. It is a teaching aid shared by steps 2 to 12: the connection state, which candidate
// pair ICE chose (host, srflx or relay), the round-trip time, the bytes per second, and for video
// the frame rate and resolution.

const STATS_INTERVAL_MS = 1000;

// Adds a stats table for `pc` to `container`; it removes itself when the connection closes.
function watchStats(pc, container, title) {
  const table = document.createElement('table');
  table.className = 'stats';
  const caption = table.createCaption();
  caption.textContent = title;
  container.append(table);
  let polling = false;
  let previous = null;
  const refresh = async () => {
    const report = await pc.getStats();
    if (polling) {
      showRows(table, describeStats(pc, report, previous));
      previous = report;
    }
  };
  // getStats() only once connected: before, it has little to show, and set-up is the busy moment.
  const onStateChange = () => {
    const state = pc.connectionState;
    if (state === 'connected') {
      polling = true;
    } else if (state === 'failed' || state === 'closed') {
      polling = false;
      previous = null;
    }
    if (polling) {
      refresh();
    } else {
      showRows(table, describeConnectionState(state));
    }
  };
  // close() fires no event, so this cheap tick (no getStats() unless connected) notices it.
  const tick = () => {
    if (pc.signalingState === 'closed') {
      clearInterval(timer);
      pc.removeEventListener('connectionstatechange', onStateChange);
      table.remove();
    } else if (polling) {
      refresh();
    }
  };
  pc.addEventListener('connectionstatechange', onStateChange);
  const timer = setInterval(tick, STATS_INTERVAL_MS);
  onStateChange();
}

// Before the connection is up (or after it failed): its state, and no getStats().
function describeConnectionState(state) {
  const pair = state === 'failed' ? 'none that works' : 'none selected yet';
  return [['connection', state], ['candidate pair', pair]];
}

function describeStats(pc, report, previous) {
  const rows = [['connection', pc.connectionState]];
  const pair = selectedPair(report);
  if (pair) {
    rows.push(['local candidate', describeCandidate(report.get(pair.localCandidateId))]);
    rows.push(['remote candidate', describeCandidate(report.get(pair.remoteCandidateId))]);
    if (pair.currentRoundTripTime !== undefined) {
      rows.push(['round trip', `${Math.round(pair.currentRoundTripTime * 1000)} ms`]);
    }
    // Bytes are counted per transport: a pair's own counts start again when ICE switches pairs.
    // Firefox's transport stats name the pair but count no bytes: then the pair's counts.
    const transport = transportOf(report);
    const counted = transport?.bytesSent !== undefined ? transport : pair;
    const before = previous?.get(counted.id);
    if (before) {
      const seconds = (counted.timestamp - before.timestamp) / 1000;
      rows.push(['sent', traffic(counted.bytesSent, before.bytesSent, seconds)]);
      rows.push(['received', traffic(counted.bytesReceived, before.bytesReceived, seconds)]);
    }
  } else {
    rows.push(['candidate pair', 'none selected yet']);
  }
  for (const stat of report.values()) {
    if (stat.kind !== 'video' || !['inbound-rtp', 'outbound-rtp'].includes(stat.type)) {
      continue;
    }
    // A receiver that got nothing since the last refresh shows nobody (an empty slot in step 6).
    const idle = stat.packetsReceived === previous?.get(stat.id)?.packetsReceived;
    if (stat.type === 'outbound-rtp') {
      rows.push(['video out', describeVideo(stat)]);
    } else if (!idle) {
      // Several come in on one connection in step 6: the mid says which transceiver (slot).
      rows.push(['video in', describeVideo(stat) + (stat.mid ? `, mid ${stat.mid}` : '')]);
    }
  }
  return rows;
}

function transportOf(report) {
  return [...report.values()].find((s) => s.type === 'transport' && s.selectedCandidatePairId);
}

function selectedPair(report) {
  const transport = transportOf(report);
  if (transport) {
    return report.get(transport.selectedCandidatePairId);
  }
  // Browsers without transport stats mark the pair itself.
  return [...report.values()].find((s) => s.type === 'candidate-pair' && s.selected);
}

function describeCandidate(candidate) {
  if (!candidate) {
    return '?';
  }
  const protocol = candidate.relayProtocol;
  const via = protocol ? ` (to the TURN server over ${protocol})` : '';
  const address = candidate.address || candidate.ip || '(hidden)';
  const type = candidate.candidateType;
  return `${type} ${address}:${candidate.port} ${candidate.protocol}${via}${TYPE_NOTES[type] ?? ''}`;
}

// Firefox often labels the other side's address prflx where Chromium says host: a connectivity
// check came from it before the candidate naming it arrived (or that candidate was an mDNS name).
// Same address, another label; the note says so.
const TYPE_NOTES = {
  prflx: ' (peer reflexive: learned from a connectivity check, not from a candidate)',
};

function describeVideo(stat) {
  const size = stat.frameWidth ? `${stat.frameWidth}x${stat.frameHeight}` : 'no frames yet';
  const fps = stat.framesPerSecond !== undefined ? `, ${Math.round(stat.framesPerSecond)} fps` : '';
  return size + fps;
}

// "120 B/s, 3.4 KiB in all": a few chat messages barely move a rate, but they do move the total.
function traffic(total, totalBefore, seconds) {
  const perSecond = seconds > 0 ? `${size((total - totalBefore) / seconds)}/s` : '?';
  return `${perSecond}, ${size(total)} in all`;
}

function size(bytes) {
  return bytes < 1024 ? `${Math.round(bytes)} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function showRows(table, rows) {
  const body = document.createElement('tbody');
  for (const [label, value] of rows) {
    const row = body.insertRow();
    row.dataset.stat = label.replaceAll(' ', '-');
    row.insertCell().textContent = label;
    row.insertCell().textContent = value;
  }
  table.tBodies[0]?.remove();
  table.append(body);
}
