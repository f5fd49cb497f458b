"""Plumbing shared by the browser benchmarks: the machine's description, summaries, result files,
and the in-page recorder every benchmarked page gets.

The recorder (`RECORDER`, an init script) timestamps, inside the page, what the page does with
WebRTC and signaling: clicks and form submits, every RTCPeerConnection's descriptions, candidates
and states, data channels opening, messages, getUserMedia, signaling requests and their
acknowledgements, and the first decoded frame of every remote video track. Timestamps are
`performance.timeOrigin + performance.now()`: milliseconds on the machine's clock, comparable
between pages (every page runs on this machine), and free of Playwright's polling latency.
"""

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
IMAGES = ROOT / "docs" / "images"

RECORDER = r"""
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const bench = {
    events: [], channels: [], tracks: [], received: [], pongs: new Map(), autoSend: null,
  };
  window.__bench = bench;
  const mark = (type, detail = {}) => bench.events.push({t: now(), type, ...detail});
  bench.mark = mark;
  bench.now = now;

  window.addEventListener('click', (event) => {
    const button = event.target instanceof Element && event.target.closest('button');
    if (button && button.id) {
      mark('click', {id: button.id});
    }
  }, true);
  window.addEventListener('submit', (event) => mark('submit', {id: event.target.id}), true);

  // Data channels: when they open, what they receive; a ping is echoed at once.
  function watchChannel(channel, pc) {
    if (bench.channels.includes(channel)) {
      return;
    }
    bench.channels.push(channel);
    let opened = false;
    const onOpen = () => {
      if (!opened) {
        opened = true;
        mark('channel-open', {pc, label: channel.label});
        if (bench.autoSend !== null) {
          channel.send(bench.autoSend);
          mark('auto-sent', {pc});
        }
      }
    };
    if (channel.readyState === 'open') {
      onOpen();
    }
    channel.addEventListener('open', onOpen);
    channel.addEventListener('close', () => mark('channel-close', {pc, label: channel.label}));
    channel.addEventListener('message', (event) => {
      const t = now();
      const data = typeof event.data === 'string' ? event.data : '';
      if (data.startsWith('bench-ping:')) {
        channel.send('bench-pong:' + data.slice(11));
        return;
      }
      if (data.startsWith('bench-pong:')) {
        const resolve = bench.pongs.get(data.slice(11));
        bench.pongs.delete(data.slice(11));
        resolve?.(t);
        return;
      }
      bench.received.push({t, pc, data: data.slice(0, 300)});
    });
  }

  // Remote video: the moment its first frame is decoded. Two witnesses, each a little late, so
  // the earlier one counts (in Python): `first`, the timestamp of the first stats report of the
  // receiver with framesDecoded > 0 (polled every 10 ms; the report's own timestamp, taken when
  // the stats were, on the same clock), and `processed`, when the first frame reached a
  // MediaStreamTrackProcessor fed by a clone of the track.
  function watchTrack(track, receiver, pc) {
    if (track.kind !== 'video' || bench.tracks.some((entry) => entry.track === track)) {
      return;
    }
    const entry = {track, pc, added: now(), first: null, processed: null, polled: null};
    bench.tracks.push(entry);
    const poll = async () => {
      if (entry.first !== null || (receiver.transport?.state === 'closed')) {
        return;
      }
      try {
        (await receiver.getStats()).forEach((report) => {
          if (report.type === 'inbound-rtp' && report.framesDecoded > 0 && entry.first === null) {
            entry.first = report.timestamp;
            entry.polled = now();
          }
        });
      } catch {
        return; // the connection was closed
      }
      setTimeout(poll, 10);
    };
    poll();
    if (typeof MediaStreamTrackProcessor === 'function') {
      const clone = track.clone();
      const reader = new MediaStreamTrackProcessor({track: clone}).readable.getReader();
      reader.read().then(({value}) => {
        if (value) {
          entry.processed = now();
          value.close();
        }
        reader.cancel().catch(() => {});
        clone.stop();
      }).catch(() => {});
    }
  }

  const Native = window.RTCPeerConnection;
  let nextId = 0;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      const pc = nextId++;
      this.__benchId = pc;
      mark('pc-created', {pc});
      this.addEventListener('icecandidate', (event) => {
        mark(event.candidate && event.candidate.candidate ? 'ice-candidate' : 'ice-candidates-done',
          {pc});
      });
      this.addEventListener('icegatheringstatechange',
        () => mark('gathering-' + this.iceGatheringState, {pc}));
      this.addEventListener('iceconnectionstatechange',
        () => mark('ice-' + this.iceConnectionState, {pc}));
      this.addEventListener('connectionstatechange',
        () => mark('pc-' + this.connectionState, {pc}));
      this.addEventListener('datachannel', (event) => watchChannel(event.channel, pc));
      this.addEventListener('track', (event) => watchTrack(event.track, event.receiver, pc));
    }

    createDataChannel(...args) {
      const channel = super.createDataChannel(...args);
      watchChannel(channel, this.__benchId);
      return channel;
    }

    setLocalDescription(...args) {
      const pc = this.__benchId;
      mark('sld-call', {pc});
      return super.setLocalDescription(...args).then((result) => {
        mark('sld-done', {pc, kind: this.localDescription?.type});
        return result;
      });
    }

    setRemoteDescription(description, ...rest) {
      const pc = this.__benchId;
      mark('srd-call', {pc, kind: description?.type});
      return super.setRemoteDescription(description, ...rest).then((result) => {
        mark('srd-done', {pc, kind: description?.type});
        return result;
      });
    }
  };

  const media = navigator.mediaDevices;
  if (media) {
    const getUserMedia = media.getUserMedia.bind(media);
    media.getUserMedia = (constraints) => {
      mark('gum-call');
      return getUserMedia(constraints).then((stream) => {
        mark('gum-done');
        return stream;
      }, (error) => {
        mark('gum-failed');
        throw error;
      });
    };
  }

  // Signaling: the page's Signaling class and socket exist once its scripts have run.
  const describe = (event, payload) => {
    const data = payload?.data ?? payload;
    if (data?.description) {
      return {event, kind: data.description.type};
    }
    return {event, kind: data?.candidate ? 'candidate' : ''};
  };
  document.addEventListener('DOMContentLoaded', () => {
    if (typeof Signaling === 'function') {
      const request = Signaling.prototype.request;
      Signaling.prototype.request = async function (event, ...payload) {
        const detail = describe(event, payload[0]);
        mark('sig-send', detail);
        try {
          const ack = await request.call(this, event, ...payload);
          mark('sig-ack', detail);
          return ack;
        } catch (error) {
          mark('sig-error', detail);
          throw error;
        }
      };
    }
    if (typeof signaling === 'object' && signaling?.socket?.onAny) {
      signaling.socket.onAny((event, message) => mark('sig-recv', describe(event, message)));
    }
  });

  bench.openChannels = () => bench.channels.filter((c) => c.readyState === 'open').length;
  bench.framedTracks = () =>
    bench.tracks.filter((e) => e.first !== null || e.processed !== null).length;
  bench.frameTimes = () => bench.tracks.map(
    ({pc, added, first, processed, polled}) => ({pc, added, first, processed, polled}));
  bench.openTimes = () => bench.events.filter((e) => e.type === 'channel-open').map((e) => e.t);

  // Round trips over the first open channel: the other page echoes (see watchChannel).
  bench.ping = async (count, gapMs) => {
    const channel = bench.channels.find((c) => c.readyState === 'open');
    const samples = [];
    for (let i = 0; i < count; i++) {
      const key = `${now()}-${i}`;
      const answered = new Promise((resolve) => bench.pongs.set(key, resolve));
      const sent = now();
      channel.send('bench-ping:' + key);
      samples.push((await answered) - sent);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    return samples;
  };
})();
"""


def load_average():
    return [round(value, 2) for value in os.getloadavg()]


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine(chromium=None):
    """What the numbers were measured on; load is taken again at the end of a run."""
    info = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_start": load_average(),
    }
    if chromium:
        info["chromium"] = chromium_version(chromium)
    return info


def chromium_version(path):
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
        return result.stdout.strip() or path
    except (OSError, subprocess.TimeoutExpired):
        return path


def percentile(values, fraction):
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(values):
    values = [value for value in values if value is not None]
    if not values:
        return {"n": 0, "median": None, "p90": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 1),
        "p90": round(percentile(values, 0.9), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def read_results(name):
    path = RESULTS / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    return None


def write_results(name, data):
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def descendants(root):
    """Pids of every process below `root`."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_snapshot(root=None):
    """Machine-wide busy and total CPU time, and the CPU time of `root` (this process by
    default) and everything below it, children it has reaped included; all in seconds."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(fields[:8])
    idle = fields[3] + fields[4]  # idle and iowait
    root = root or os.getpid()
    ours = 0
    for pid in {root} | descendants(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ours += sum(int(v) for v in stat[11:15])  # utime, stime, cutime, cstime
    return {
        "total": total / TICKS,
        "busy": (total - idle) / TICKS,
        "steal": fields[7] / TICKS,  # time the hypervisor gave our virtual CPUs to others
        "ours": ours / TICKS,
    }


def cpu_share(before, after):
    """Percent of the whole machine (every core) busy between two snapshots, and how much of
    it was this benchmark (its browser and servers) rather than other programs."""
    total = after["total"] - before["total"]
    if total <= 0:
        return {}
    busy = 100 * (after["busy"] - before["busy"]) / total
    ours = 100 * (after["ours"] - before["ours"]) / total
    return {
        "machine_busy_pct": round(busy, 1),
        "this_benchmark_pct": round(ours, 1),
        "others_pct": round(max(busy - ours, 0), 1),
        "steal_pct": round(100 * (after["steal"] - before["steal"]) / total, 1),
    }
