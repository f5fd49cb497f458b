'use strict';

// A live view of what a peer connection is doing, refreshed every second from getStats(). It is a
// teaching aid shared by steps 2 to 6: which candidate pair ICE chose (host, srflx or relay), the
// round-trip time, the bytes per second, and for video the frame rate and resolution.

const STATS_INTERVAL_MS = 1000;

// Adds a stats table for `pc` to `container`; it removes itself when the connection closes.
function watchStats(pc, container, title) {
  const table = document.createElement('table');
  table.className = 'stats';
  const caption = table.createCaption();
  caption.textContent = title;
  container.append(table);
  let previous = null;
  const refresh = async () => {
    if (pc.signalingState === 'closed') {
      clearInterval(timer);
      table.remove();
      return;
    }
    const report = await pc.getStats();
    showRows(table, describeStats(pc, report, previous));
    previous = report;
  };
  const timer = setInterval(refresh, STATS_INTERVAL_MS);
  refresh();
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
    const before = previous?.get(pair.id);
    if (before) {
      const seconds = (pair.timestamp - before.timestamp) / 1000;
      rows.push(['sent', rate(pair.bytesSent - before.bytesSent, seconds)]);
      rows.push(['received', rate(pair.bytesReceived - before.bytesReceived, seconds)]);
    }
  } else {
    rows.push(['candidate pair', 'none selected yet']);
  }
  for (const stat of report.values()) {
    if (stat.kind === 'video' && (stat.type === 'inbound-rtp' || stat.type === 'outbound-rtp')) {
      rows.push([stat.type === 'inbound-rtp' ? 'video in' : 'video out', describeVideo(stat)]);
    }
  }
  return rows;
}

function selectedPair(report) {
  for (const stat of report.values()) {
    if (stat.type === 'transport' && stat.selectedCandidatePairId) {
      return report.get(stat.selectedCandidatePairId);
    }
  }
  // Browsers without transport stats mark the pair itself.
  return [...report.values()].find((s) => s.type === 'candidate-pair' && s.selected);
}

function describeCandidate(candidate) {
  if (!candidate) {
    return '?';
  }
  const via = candidate.relayProtocol ? ` (to the TURN server over ${candidate.relayProtocol})` : '';
  const address = candidate.address ?? candidate.ip ?? '(hidden)';
  return `${candidate.candidateType} ${address}:${candidate.port} ${candidate.protocol}${via}`;
}

function describeVideo(stat) {
  const size = stat.frameWidth ? `${stat.frameWidth}x${stat.frameHeight}` : 'no frames yet';
  const fps = stat.framesPerSecond !== undefined ? `, ${Math.round(stat.framesPerSecond)} fps` : '';
  return size + fps;
}

function rate(bytes, seconds) {
  return seconds > 0 ? `${(bytes / seconds / 1024).toFixed(1)} KiB/s` : '?';
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
