"""Mesh against server peer in real Chromium (on demand; written up in docs/server-peer-vs-mesh.md).

For each configuration (mesh-chat: step 4, mesh-video: step 5, server: step 6) and room size:
the step's real server, one browser context per user, every page given the same --camera. The
users join one by one; from the last one's Join click (in-page times, bench/shared.py) until its
first message, sent as soon as its channels are open, reaches every other page, and until every
page decodes every other user's video. Then over --seconds: peer connections and RTP uplink per
user, data-channel bytes per 1000-character chat message, CPU of the server and of Chromium
(100 % = one core), frames decoded per second of each received video, load before and after.

    .venv/bin/python -m bench.server_peer_vs_mesh                    # 2, 3, 4, 6 users, ~5 min
    .venv/bin/python -m bench.server_peer_vs_mesh --users 2 3 --camera 320x240@15 640x480@20

Writes bench/results/server_peer_vs_mesh.json and prints the table.
"""

import argparse
import json
import logging
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from bench import shared
from tests.server import Server

CONFIGS = {  # name: (step, video, chat, label)
    "mesh-chat": (4, False, True, "mesh (step 4, chat)"),
    "mesh-video": (5, True, False, "mesh (step 5, video)"),
    "server": (6, True, True, "server peer (step 6)"),
}
FORCE_CAMERA = """(() => {
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => getUserMedia(c?.video ? {...c, video: %s} : c);
})();"""
# What one page has sent and decoded so far, over all of its open peer connections.
PAGE_STATS = """async () => {
  const pcs = __bench.pcs.filter((pc) => pc.signalingState !== 'closed');
  const sums = {uplink: 0, chat: 0, videos: {}, connections: pcs.length};
  for (const [i, pc] of pcs.entries()) {
    for (const r of (await pc.getStats()).values()) {
      if (r.type === 'outbound-rtp') sums.uplink += r.bytesSent + r.headerBytesSent;
      if (r.type === 'data-channel') sums.chat += r.bytesSent;
      if (r.type === 'inbound-rtp' && r.kind === 'video') sums.videos[i + r.id] = r.framesDecoded;
    }
  }
  return {...sums, at: performance.now()};
}"""
HEADER = """\
| configuration | users | camera | connections per user | uplink per user (kbit/s) | bytes sent \
per chat message | server CPU | Chromium CPU | received fps (median / min) | first message (ms) \
| first frame (ms) | load avg before/after |
|---|---|---|---|---|---|---|---|---|---|---|---|"""
ROW = (
    "| {label} | {users} | {camera} | {connections:g} | {uplink_kbps} | {chat_bytes} "
    "| {server_cpu} % | {browser_cpu} % | {fps} / {fps_min} | {first_message_ms} "
    "| {first_frame_ms} | {load_before:.1f} / {load_after:.1f} |"
)


def camera_constraints(text):  # "320x240@15"
    width, height, fps = map(int, re.split("[x@]", text))
    return {"width": {"exact": width}, "height": {"exact": height}, "frameRate": {"exact": fps}}


def chromium_cpu_seconds():
    return sum(shared.cpu_seconds(pid) for pid in shared.browser_pids(os.getpid()))


def measure(browser, config, users, camera, seconds, logs):
    step, video, chat, label = CONFIGS[config]
    row = {"config": config, "label": label, "users": users, "camera": camera if video else "-"}
    row.update(load_before=shared.load_average(), first_message_ms="-", first_frame_ms="-")
    server = Server(step, logs, MAX_ROOM_SIZE=users)

    def ready(page, others):  # a mesh page has a channel per other member, a step 6 page one
        if chat:
            shared.wait_open(page, 1 if step == 6 else others)
        if video:
            shared.wait_frames(page, others)

    try:
        script = FORCE_CAMERA % json.dumps(camera_constraints(camera))
        after = (1 if step == 6 else users - 1) if chat else None  # send once that many are open
        pages, timelines, t0 = shared.join_room(browser, server, users, ready, [script], after)
        if chat:
            row["first_message_ms"] = round(shared.received(pages[:-1], "[first message]") - t0)
        if video:
            row["first_frame_ms"] = round(max(shared.latest(t, "frame") for t in timelines) - t0)
        row.update(sample(pages, server, seconds))
        row["chat_bytes"] = chat_bytes_per_message(pages[0]) if chat else "-"
    except Exception as error:  # a room that does not work is a result too
        row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    finally:
        shared.close_pages(browser)
        server.stop()
    row["load_after"] = shared.load_average()
    return row


def sample(pages, server, seconds):
    before = [page.evaluate(PAGE_STATS) for page in pages]
    server_cpu, browser_cpu = shared.cpu_seconds(server.process.pid), chromium_cpu_seconds()
    started = time.perf_counter()
    pages[0].wait_for_timeout(seconds * 1000)
    elapsed = time.perf_counter() - started
    after = [page.evaluate(PAGE_STATS) for page in pages]
    uplinks, rates = [], []
    for old, new in zip(before, after, strict=True):
        window = (new["at"] - old["at"]) / 1000
        uplinks.append(8 * (new["uplink"] - old["uplink"]) / window / 1000)
        rates += [(n - old["videos"].get(k, 0)) / window for k, n in new["videos"].items()]
    return {
        "connections": round(statistics.mean(new["connections"] for new in after), 2),
        "uplink_kbps": round(statistics.mean(uplinks)) or "-",
        "server_cpu": round(100 * (shared.cpu_seconds(server.process.pid) - server_cpu) / elapsed),
        "browser_cpu": round(100 * (chromium_cpu_seconds() - browser_cpu) / elapsed),
        "fps": round(statistics.median(rates), 1) if rates else "-",
        "fps_min": round(min(rates), 1) if rates else "-",
    }


def chat_bytes_per_message(page, count=20, size=1000):
    """Data-channel bytes this page sends for one message of `size` characters."""
    before = page.evaluate(PAGE_STATS)["chat"]
    for i in range(count):
        page.fill("#message", f"{i:04d}" + "x" * (size - 4))
        page.click("#send")
    sent = f"async (goal) => (await ({PAGE_STATS})()).chat >= goal"
    page.wait_for_function(sent, arg=before + count * size)
    return round((page.evaluate(PAGE_STATS)["chat"] - before) / count)


def line(row):
    if "error" in row:
        return f"| {row['label']} | {row['users']} | {row['camera']} | {row['error']} |"
    return ROW.format(**row)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--users", nargs="+", type=int, default=[2, 3, 4, 6])
    parser.add_argument("--camera", nargs="+", default=["320x240@15"], help="WIDTHxHEIGHT@FPS")
    parser.add_argument("--seconds", type=float, default=10, help="measuring window per room")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = {"machine": shared.machine(), "rows": []}
    with shared.chromium() as browser, tempfile.TemporaryDirectory() as logs:
        for config in args.configs:
            for camera in args.camera if CONFIGS[config][1] else args.camera[:1]:
                for users in args.users:
                    row = measure(browser, config, users, camera, args.seconds, Path(logs))
                    results["rows"].append(row)
                    logging.info(line(row))
    results["machine"]["load_end"] = shared.load_average()
    shared.save("server_peer_vs_mesh", results)
    print("\n".join([HEADER, *map(line, results["rows"])]))


if __name__ == "__main__":
    main()
