"""What the benchmarks share: the machine, result files, process figures from /proc, and Chromium
pages carrying RECORDER, an init script that wraps RTCPeerConnection and timestamps in the page
(performance.timeOrigin + now(), comparable between pages) button clicks, setLocalDescription()
calls, data channels opening and their messages, and the first decoded frame of each remote
video (getStats()). Of a lesson's page it needs only the DOM ids.
"""

import json
import logging
import os
import platform
import statistics
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests import browsers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

RECORDER = r"""(() => {
  const now = () => performance.timeOrigin + performance.now();
  const bench = (window.__bench = {events: [], pcs: [], channels: [], received: [], pongs: {}});
  const mark = (type, detail) => bench.events.push({t: now(), type, ...detail});
  bench.count = (type) => bench.events.filter((event) => event.type === type).length;
  bench.open = () => bench.channels.filter((channel) => channel.readyState === 'open').length;
  bench.arrival = (text) => bench.received.find((message) => message.data.includes(text))?.t;
  addEventListener('click', ({target}) => {
    const id = target.closest?.('button[id]')?.id;
    if (id) mark('click', {id});
  }, true);

  function watchChannel(channel) {  // a ping is answered at once, other messages are kept
    if (bench.channels.includes(channel)) return;
    bench.channels.push(channel);
    let opened = false;
    const open = () => opened || ((opened = true), mark('channel-open'));
    if (channel.readyState === 'open') open();
    channel.addEventListener('open', open);
    channel.addEventListener('message', ({data}) => {
      const t = now();
      if (typeof data !== 'string') return;
      if (data.startsWith('bench-ping:')) channel.send('bench-pong:' + data.slice(11));
      else if (data.startsWith('bench-pong:')) bench.pongs[data.slice(11)]?.(t);
      else bench.received.push({t, data: data.slice(0, 300)});
    });
  }
  const watched = new WeakSet();
  function watchVideo(receiver) {  // its first decoded frame, by the stats' own clock
    if (watched.has(receiver)) return;
    watched.add(receiver);
    const poll = () => receiver.getStats().then((stats) => {
      const report = [...stats.values()].find((r) => r.type === 'inbound-rtp' && r.framesDecoded);
      if (report) mark('frame', {t: report.timestamp});
      else if (receiver.transport?.state !== 'closed') setTimeout(poll, 10);
    }, () => {});  // closed
    poll();
  }
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      bench.pcs.push(this);
      this.addEventListener('datachannel', (event) => watchChannel(event.channel));
      this.addEventListener('track', (e) => e.track.kind === 'video' && watchVideo(e.receiver));
    }
    createDataChannel(...args) {
      const channel = super.createDataChannel(...args);
      watchChannel(channel);
      return channel;
    }
    setLocalDescription(...args) {
      mark('sld-call');
      return super.setLocalDescription(...args);
    }
  };

  bench.ping = async (count, gapMs) => {  // round trips over the first open channel
    const channel = bench.channels.find((c) => c.readyState === 'open');
    const samples = [];
    for (let i = 0; i < count; i++) {
      const sent = now();
      channel.send('bench-ping:' + i);
      samples.push((await new Promise((resolve) => (bench.pongs[i] = resolve))) - sent);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    return samples;
  };
  bench.sendWhenOpen = (channels, text) => {  // through the page's own form
    const button = document.querySelector('#send');
    if (bench.open() < channels || button.disabled) {
      return setTimeout(() => bench.sendWhenOpen(channels, text), 1);
    }
    document.querySelector('#message').value = text;
    button.click();
  };
})();"""


def machine():
    """What a run was measured on, and the 1-minute load average as it started."""
    cpus = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cores": os.cpu_count(),
        "cpu": cpus[0].split(":")[1].strip() if cpus else platform.processor(),
        "python": platform.python_version(),
        "node": node,
        "load": load_average(),
    }


def load_average():
    return round(os.getloadavg()[0], 2)


def summary(values):
    """Count, median and 90th percentile (interpolated between the closest ranks, like numpy)."""
    p90 = statistics.quantiles(values, n=10, method="inclusive")[8] if values[1:] else values[0]
    return {"n": len(values), "median": round(statistics.median(values), 1), "p90": round(p90, 1)}


def load(name):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def save(name, data):
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    logging.info("results: bench/results/%s.json", name)


def proc(pid, name):
    """The text of /proc/PID/NAME; empty once the process is gone."""
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return ""


def memory_mib(pid, field="VmRSS"):
    """VmRSS or VmHWM (from status) or Pss (from smaps_rollup), in MiB; 0 once it is gone."""
    text = proc(pid, "smaps_rollup" if field == "Pss" else "status")
    kib = [int(line.split()[1]) for line in text.splitlines() if line.startswith(field + ":")]
    return kib[0] / 1024 if kib else 0.0


def cpu_seconds(pid):
    """CPU time (user + system) a process has used so far; 0 once it is gone."""
    fields = proc(pid, "stat").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def descendants(root):
    """Pids of every process below `root`."""
    parents = {}
    for entry in Path("/proc").glob("[0-9]*"):
        if fields := proc(entry.name, "stat").rpartition(")")[2].split():
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def browser_pids(root):
    """Chromium's and Firefox's processes among those below `root` (Firefox names its children
    by their role, so the command line tells)."""
    names = ("chrom", "firefox")
    return [pid for pid in descendants(root) if any(n in proc(pid, "cmdline") for n in names)]


@contextmanager
def chromium():
    """One headless Chromium for all the users of a benchmark, launched as the tests do."""
    try:
        # Found before Playwright starts its event loop.
        options = browsers.launch_options("chromium", browsers.find("chromium"))
    except browsers.Missing as error:
        raise SystemExit(str(error)) from None
    with sync_playwright() as playwright:
        yield playwright.chromium.launch(**options)


def open_page(browser, url, name=None, scripts=()):
    """One user: a fresh browser context with the recorder; with a name, ready to join."""
    context = browser.new_context()
    for script in (RECORDER, *scripts):
        context.add_init_script(script)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    if name:
        page.wait_for_function(
            "document.querySelector('#signaling-state').textContent == 'connected'"
        )
        page.fill("#name", name)
    return page


def join_room(browser, server, n, ready, scripts=(), message_after=None):
    """n users join a fresh room one after the other, each time until every page in the room is
    `ready(page, others)`; with `message_after`, the last one sends "[first message]" through its
    form as soon as that many channels are open. Returns the pages, their timelines and the time
    of the last one's Join click."""
    url = f"{server.url}/?room=bench-{uuid.uuid4().hex[:10]}"
    pages = [open_page(browser, url, f"user{i}", scripts) for i in range(n)]
    for i, page in enumerate(pages):
        if i == n - 1 and message_after:
            page.evaluate("(n) => __bench.sendWhenOpen(n, '[first message]')", message_after)
        page.click("#join")
        page.wait_for_selector("#leave:enabled")
        for earlier in pages[: i + 1]:
            ready(earlier, i)
    timelines = [page.evaluate("__bench.events") for page in pages]
    return pages, timelines, clicked(timelines[-1], "join")


def close_pages(browser):
    for context in browser.contexts:
        context.close()


def wait(page, condition):
    page.wait_for_function(f"() => {condition}", polling=10)


def wait_open(page, channels):
    wait(page, f"__bench.open() >= {channels}")


def wait_frames(page, videos):
    wait(page, f"__bench.count('frame') >= {videos}")


def latest(timeline, event):
    return max((e["t"] for e in timeline if e["type"] == event), default=None)


def clicked(timeline, button):
    return [e["t"] for e in timeline if e["type"] == "click" and e["id"] == button][-1]


def received(pages, text):
    """When the last of `pages` received a data-channel message that contains `text`."""
    for page in pages:
        wait(page, f"__bench.arrival({json.dumps(text)})")
    return max(page.evaluate("(text) => __bench.arrival(text)", text) for page in pages)
