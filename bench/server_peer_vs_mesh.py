"""Mesh against server peer, measured in real Chromium on this machine (run on demand).

For each room size it starts the step's real server (as `make run` does), opens one browser
context per user in one Chromium (fake camera and microphone), joins them all, then measures for
a few seconds:

- peer connections per user (the RTCPeerConnections each page really holds);
- uplink per user: what each page sends, from getStats (outbound-rtp bytes and header bytes for
  video and sound; data-channel bytes for the chat);
- CPU: the server process and all Chromium processes, from /proc (100 % = one core);
- received video frame rate: framesDecoded per second of each video a page receives;
- time to first message and first frame: the last user to join clicks Join, sends a message as
  soon as it can, and the clock stops when every other page shows that message (and, with video,
  when every page decodes every other user's video).

Configurations: `mesh-chat` (step 4), `mesh-video` (step 5, if it exists) and `server` (step 6:
chat and video on one connection). A camera setting such as 320x240@15 is forced on every page
(both steps ask for it through getUserMedia), so that both models send the same picture.

    .venv/bin/python -m bench.server_peer_vs_mesh                        # everything, ~10 min
    .venv/bin/python -m bench.server_peer_vs_mesh --configs server --users 2 3 --camera 640x480@20
    .venv/bin/python -m bench.server_peer_vs_mesh --chart docs/images/server-peer-vs-mesh.png

Raw results go to bench/results/server_peer_vs_mesh.json. Traffic stays on this machine (loopback
and its own address). Each run stops by itself.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.browser_common import cpu_seconds, descendants
from common.run import available_steps
from tests.chromium import HOW_TO_GET_ONE, find_chromium
from tests.conftest import CHROMIUM_ARGS, COUNT_PEER_CONNECTIONS
from tests.server import ROOT, Server

RESULTS = ROOT / "bench" / "results" / "server_peer_vs_mesh.json"
READY_TIMEOUT_MS = 60_000
CONFIGS = {
    "mesh-chat": {"step": 4, "video": False, "chat": True, "label": "mesh (step 4, chat)"},
    "mesh-video": {"step": 5, "video": True, "chat": False, "label": "mesh (step 5, video)"},
    "server": {"step": 6, "video": True, "chat": True, "label": "server peer (step 6)"},
}

# Every page asks for the same camera, whatever its own code asks for.
FORCE_CAMERA = """
(() => {
  const camera = %s;
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) =>
    original(constraints && constraints.video ? {...constraints, video: camera} : constraints);
})();
"""

# What one page sends and receives so far, over all of its peer connections.
PAGE_STATS = """
async () => {
  const totals = {uplinkBytes: 0, chatBytes: 0, videos: {}};
  for (const [index, pc] of openPeerConnections().entries()) {
    (await pc.getStats()).forEach((report) => {
      if (report.type === 'outbound-rtp') {
        totals.uplinkBytes += (report.bytesSent ?? 0) + (report.headerBytesSent ?? 0);
      } else if (report.type === 'data-channel') {
        totals.chatBytes += report.bytesSent ?? 0;
      } else if (report.type === 'inbound-rtp' && report.kind === 'video' && report.framesDecoded) {
        totals.videos[`${index}/${report.id}`] = report.framesDecoded;
      }
    });
  }
  return {...totals, connections: openPeerConnections().length, at: performance.now()};
}
"""

# Chat is ready when the page reaches everyone: step 4 shows its open channels (one per peer),
# step 6 has one channel, to the server, and enables Send once it is open.
CHAT_READY = """
(others) => {
  const channels = document.querySelector('#channel-count');
  if (channels) {
    return !document.querySelector('#leave').disabled && Number(channels.textContent) === others;
  }
  return !document.querySelector('#send').disabled;
}
"""

VIDEOS_DECODING = """
async (others) => {
  let decoding = 0;
  for (const pc of openPeerConnections()) {
    (await pc.getStats()).forEach((report) => {
      if (report.type === 'inbound-rtp' && report.kind === 'video' && report.framesDecoded > 0) {
        decoding += 1;
      }
    });
  }
  return decoding >= others;
}
"""


@dataclass
class Run:
    config: str
    users: int
    camera: str
    connections_per_user: float = 0
    uplink_kbps_per_user: float = 0  # kilobits a second, media (RTP) only
    chat_bytes_per_message: float = 0  # data-channel bytes one page sends for one message
    server_cpu: float = 0  # % of one core
    browser_cpu: float = 0
    fps_received: float = 0  # median over all received videos
    fps_received_min: float = 0
    first_message_ms: float = 0
    first_frame_ms: float = 0
    load_before: float = 0
    load_after: float = 0
    error: str = ""
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d"))


def chromium_cpu_seconds():
    total = 0.0
    for pid in descendants(os.getpid()):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def load_average():
    return float(Path("/proc/loadavg").read_text().split()[0])


def parse_camera(text):
    size, fps = text.split("@")
    width, height = (int(n) for n in size.split("x"))
    return {
        "width": {"exact": width},
        "height": {"exact": height},
        "frameRate": {"exact": int(fps)},
    }


def join(browser, server, room, name, camera):
    context = browser.new_context()
    context.add_init_script(COUNT_PEER_CONNECTIONS)
    context.add_init_script(FORCE_CAMERA % json.dumps(parse_camera(camera)))
    page = context.new_page()
    page.goto(f"{server.url}/?room={room}")
    page.wait_for_function("document.querySelector('#signaling-state').textContent === 'connected'")
    page.fill("#name", name)
    started = time.perf_counter()
    page.click("#join")
    return page, started


def wait_ready(page, config, others):
    if config["chat"]:
        page.wait_for_function(CHAT_READY, arg=others, timeout=READY_TIMEOUT_MS)
    if config["video"]:
        page.wait_for_function(VIDEOS_DECODING, arg=others, timeout=READY_TIMEOUT_MS, polling=50)


def first_message(pages, newcomer, started, config):
    """The newcomer sends as soon as it can; milliseconds from its Join to every page showing it."""
    page = pages[newcomer]
    page.wait_for_function(CHAT_READY, arg=len(pages) - 1, timeout=READY_TIMEOUT_MS, polling=10)
    page.fill("#message", "first!")
    page.click("#send")
    for name, other in pages.items():
        if name != newcomer:
            other.wait_for_function(
                "text => [...document.querySelectorAll('#log li.received')]"
                ".some((li) => li.textContent.endsWith(text))",
                arg="first!",
                timeout=READY_TIMEOUT_MS,
                polling=10,
            )
    return (time.perf_counter() - started) * 1000


def first_frame(pages, newcomer, started):
    """Milliseconds from the newcomer's Join to all videos decoding, both ways."""
    others = len(pages) - 1
    pages[newcomer].wait_for_function(
        VIDEOS_DECODING, arg=others, timeout=READY_TIMEOUT_MS, polling=20
    )
    for name, page in pages.items():
        if name != newcomer:
            page.wait_for_function(
                VIDEOS_DECODING, arg=others, timeout=READY_TIMEOUT_MS, polling=20
            )
    return (time.perf_counter() - started) * 1000


def chat_bytes_per_message(page, count=20, size=1000):
    """Data-channel bytes this page sends for one message of `size` characters."""
    before = page.evaluate(PAGE_STATS)["chatBytes"]
    for i in range(count):
        page.fill("#message", f"{i:04d}" + "x" * (size - 4))
        page.click("#send")
    page.wait_for_function(
        f"async ([before, goal]) => ((await ({PAGE_STATS})()).chatBytes - before) >= goal",
        arg=[before, count * size],
        timeout=READY_TIMEOUT_MS,
    )
    after = page.evaluate(PAGE_STATS)["chatBytes"]
    return (after - before) / count


def measure(config_name, users, camera, seconds, log_dir, chromium):
    config = CONFIGS[config_name]
    env = {"MAX_ROOM_SIZE": users}
    run = Run(config_name, users, camera if config["video"] else "-", load_before=load_average())
    server = Server(config["step"], log_dir, **env)
    room = f"bench-{uuid.uuid4().hex[:8]}"
    names = [f"user{i}" for i in range(users)]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            pages = {}
            for name in names[:-1]:
                pages[name], _ = join(browser, server, room, name, camera)
                wait_ready(pages[name], config, len(pages) - 1)
            newcomer = names[-1]
            pages[newcomer], started = join(browser, server, room, newcomer, camera)
            if config["chat"]:
                run.first_message_ms = first_message(pages, newcomer, started, config)
            if config["video"]:
                run.first_frame_ms = first_frame(pages, newcomer, started)
            for page in pages.values():
                wait_ready(page, config, users - 1)
            sample(run, pages, server, seconds, config)
            if config["chat"]:
                run.chat_bytes_per_message = chat_bytes_per_message(pages[names[0]])
            browser.close()
    except Exception as err:  # a size that does not work is a result too
        run.error = f"{type(err).__name__}: {str(err).splitlines()[0]}"
    finally:
        server.stop()
    run.load_after = load_average()
    return run


def sample(run, pages, server, seconds, config):
    before = {name: page.evaluate(PAGE_STATS) for name, page in pages.items()}
    server_before, browser_before = cpu_seconds(server.process.pid), chromium_cpu_seconds()
    started = time.perf_counter()
    pages[next(iter(pages))].wait_for_timeout(seconds * 1000)  # the measuring window
    elapsed = time.perf_counter() - started
    run.server_cpu = 100 * (cpu_seconds(server.process.pid) - server_before) / elapsed
    run.browser_cpu = 100 * (chromium_cpu_seconds() - browser_before) / elapsed
    after = {name: page.evaluate(PAGE_STATS) for name, page in pages.items()}
    uplinks, rates = [], []
    for name in pages:
        window = (after[name]["at"] - before[name]["at"]) / 1000
        uplinks.append(8 * (after[name]["uplinkBytes"] - before[name]["uplinkBytes"]) / window)
        frames_before, frames_after = before[name]["videos"], after[name]["videos"]
        rates += [(frames_after[k] - frames_before.get(k, 0)) / window for k in frames_after]
    run.connections_per_user = statistics.mean(after[n]["connections"] for n in pages)
    run.uplink_kbps_per_user = statistics.mean(uplinks) / 1000
    if rates:
        run.fps_received = statistics.median(rates)
        run.fps_received_min = min(rates)


def number(value, digits=0):
    return f"{value:.{digits}f}" if value else "-"


def table(runs):
    lines = [
        "| configuration | users | camera | connections per user | uplink per user (kbit/s) "
        "| bytes sent per chat message | server CPU | Chromium CPU | received fps (median / min) "
        "| first message (ms) | first frame (ms) | load avg before/after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        if r.error:
            lines.append(f"| {CONFIGS[r.config]['label']} | {r.users} | {r.camera} | {r.error} |")
            continue
        fps = f"{r.fps_received:.1f} / {r.fps_received_min:.1f}" if r.fps_received else "-"
        lines.append(
            f"| {CONFIGS[r.config]['label']} | {r.users} | {r.camera} "
            f"| {r.connections_per_user:g} | {number(r.uplink_kbps_per_user)} "
            f"| {number(r.chat_bytes_per_message)} | {r.server_cpu:.0f} % | {r.browser_cpu:.0f} % "
            f"| {fps} | {number(r.first_message_ms)} | {number(r.first_frame_ms)} "
            f"| {r.load_before:.1f} / {r.load_after:.1f} |"
        )
    return "\n".join(lines)


def chart(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("connections_per_user", "peer connections per user", False),
        ("uplink_kbps_per_user", "media uplink per user (kbit/s)", True),
        ("server_cpu", "server process CPU (% of one core)", False),
        ("fps_received", "received video (frames/s, median)", True),
    ]
    series = {}
    for r in runs:
        if not r.error:
            series.setdefault((r.config, r.camera), []).append(r)
    colors = dict(zip(series, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    figure, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for axis, (key, title, video_only) in zip(axes.flat, panels, strict=True):
        for (config, camera), points in series.items():
            if video_only and not CONFIGS[config]["video"]:
                continue
            # A run whose video stalled (0 frames/s) shows as a gap, not as a measurement.
            shown = [p for p in points if getattr(p, key) > 0 or not video_only]
            label = CONFIGS[config]["label"] + ("" if camera == "-" else f", {camera}")
            axis.plot(
                [p.users for p in shown],
                [getattr(p, key) for p in shown],
                "o-",
                color=colors[(config, camera)],
                label=label,
            )
        axis.set_title(title)
        axis.set_xlabel("users in the room")
        axis.set_xticks(sorted({r.users for r in runs}))
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    handles, labels = [], []
    for axis in axes.flat:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    cores, day = os.cpu_count(), runs[0].date
    figure.suptitle(f"Mesh vs server peer: one {cores}-core machine runs every page, {day}")
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--users", nargs="+", type=int, default=[2, 3, 4, 6])
    parser.add_argument(
        "--camera", nargs="+", default=["320x240@15"], help="WIDTHxHEIGHT@FPS, one or more"
    )
    parser.add_argument("--seconds", type=float, default=10, help="measuring window per run")
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS,
        help=f"where the raw results go (default: {RESULTS.relative_to(ROOT)})",
    )
    parser.add_argument("--chart", type=Path, help="draw the chart into this PNG")
    parser.add_argument(
        "--chart-only", action="store_true", help="redraw the chart from --json, run nothing"
    )
    args = parser.parse_args(argv)
    if args.chart_only:
        runs = [Run(**r) for r in json.loads(args.json.read_text())]
        print(table(runs))
        chart(runs, args.chart)
        return
    chromium = find_chromium()
    if chromium is None:
        sys.exit(HOW_TO_GET_ONE)
    log_dir = Path(tempfile.mkdtemp(prefix="server-peer-bench-"))
    runs = []
    steps = available_steps()
    for config in args.configs:
        if CONFIGS[config]["step"] not in steps:
            print(f"{config}: step {CONFIGS[config]['step']} does not exist here; skipped")
            continue
        cameras = args.camera if CONFIGS[config]["video"] else args.camera[:1]
        for camera in cameras:
            for users in args.users:
                run = measure(config, users, camera, args.seconds, log_dir, chromium)
                runs.append(run)
                print(table([run]).splitlines()[-1], flush=True)
    print()
    print(table(runs))
    print(f"\nserver logs: {log_dir}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1))
    print(f"raw results: {args.json}")
    if args.chart:
        chart(runs, args.chart)
        print(f"chart: {args.chart}")


if __name__ == "__main__":
    main()
