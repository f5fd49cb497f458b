"""How many viewers step 14's server forwards a broadcast to: 10, 25, 50 and 100 WHEP viewers.

One publisher and the viewers are aiortc peers in processes of their own, on 127.0.0.1. The
publisher POSTs a WHIP offer and sends pre-encoded VP8 640x480 at 15 fps (the publishing page's
camera size) and Opus (tests/encoded_source.py, a keyframe when asked), so that it spends no CPU
on encoding. The viewers are spread over VIEWER_PROCESSES processes; each POSTs a receive-only
WHEP offer, one after the other, and counts what it receives as the RTP packets arrive, in place
of aiortc's jitter buffer and decoder (a video frame ends with the packet that has the marker
bit), as bench/room_load.py's members do. For each row, with a fresh server: every viewer joins
(join -> first frame: from its POST to its first video frame), SETTLE seconds pass, then over
--seconds: the server's CPU (a share of one core), per viewer, the viewers' processes' CPU, the
machine's idle cores, and each viewer's frames and sound packets a second. Issue 25's target
(50 viewers, the slowest at 14 fps or more) is checked at the end.

    .venv/bin/python -m bench.broadcast_load --viewers 10 25 50 100 --seconds 15

Writes bench/results/broadcast_load.json; `python -m bench.report` puts it in
docs/server-peer-vs-mesh.md (One publisher, many viewers).
"""

import argparse
import asyncio
import logging
import multiprocessing
import shlex
import statistics
import sys
import time
import urllib.request
from contextlib import suppress
from functools import partial

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench import shared
from bench.room_load import idle_seconds, spread
from step6_server_peer import forwarding
from tests.encoded_source import audio_track, video_track
from tests.server import Server

TOKEN = "bench-token"
STREAM = "bench"
VIEWER_PROCESSES = 4  # the viewers' processes: they share the machine's 2 cores with the server
SETTLE = 2  # seconds after the last join: the joins' keyframes out of the way
TIMEOUT = 60  # seconds for a viewer's first frame
MIN_FPS = 14  # target: the slowest of 50 viewers
TARGET_VIEWERS = 50


def post(url, sdp, token=None):
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, sdp.encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read().decode()


def configuration():
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


async def publisher(url, stop):
    pc = RTCPeerConnection(configuration())
    video = video_track(width=640, height=480)
    camera = pc.addTransceiver(video, direction="sendonly")
    forwarding.on_keyframe_request(camera.sender, video.restart)
    pc.addTransceiver(audio_track(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer = await asyncio.to_thread(post, url, pc.localDescription.sdp, TOKEN)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    stop.send("live")
    await asyncio.to_thread(stop.recv)
    await pc.close()


def publish(conn, url):
    asyncio.run(publisher(url, conn))


class Viewers:
    """Some of the viewers, in one process, told "join N", "status" or "stop" through `conn`."""

    def __init__(self, conn, url):
        self.conn, self.url = conn, url
        self.pcs, self.tasks, self.done = [], set(), asyncio.Event()
        self.frames, self.sounds, self.first = {}, {}, {}  # viewer -> count, -> count, -> time
        self.posted = {}

    async def run(self):
        asyncio.get_running_loop().add_reader(self.conn.fileno(), self.command)
        self.conn.send("ready")
        await self.done.wait()
        for pc in self.pcs:
            await pc.close()

    def command(self):
        what = self.conn.recv()
        if isinstance(what, tuple):  # ("join", viewer number)
            self.tasks.add(asyncio.ensure_future(self.join(what[1])))
        elif what == "status":
            self.conn.send(
                {
                    "frames": self.frames,
                    "sounds": self.sounds,
                    "first": self.first,
                    "posted": self.posted,
                }
            )
        else:
            self.done.set()

    async def join(self, viewer):
        pc = RTCPeerConnection(configuration())
        self.pcs.append(pc)
        for kind in ("video", "audio"):
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            # aiortc calls it for each packet: counted, never decoded
            transceiver.receiver._handle_rtp_packet = partial(self.count, viewer, kind)
        await pc.setLocalDescription(await pc.createOffer())
        self.posted[viewer] = time.monotonic()
        answer = await asyncio.to_thread(post, self.url, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        self.conn.send(("joined", viewer))

    async def count(self, viewer, kind, packet, arrival_time_ms):
        if kind == "audio":
            self.sounds[viewer] = self.sounds.get(viewer, 0) + 1
        elif packet.marker:
            self.first.setdefault(viewer, time.monotonic())
            self.frames[viewer] = self.frames.get(viewer, 0) + 1


def watch(conn, url):
    asyncio.run(Viewers(conn, url).run())


def statuses(groups):
    for _, conn in groups:
        conn.send("status")
    merged = {"frames": {}, "sounds": {}, "first": {}, "posted": {}}
    for _, conn in groups:
        for key, values in conn.recv().items():
            merged[key] |= values
    return merged


def row(count, seconds, log_dir):
    server = Server(14, log_dir, PUBLISH_TOKEN=TOKEN)
    spawn, processes = multiprocessing.get_context("spawn"), []
    try:
        ours, theirs = spawn.Pipe()
        processes.append(
            (spawn.Process(target=publish, args=(theirs, f"{server.url}/whip/{STREAM}")), ours)
        )
        processes[0][0].start()
        if not ours.poll(TIMEOUT) or ours.recv() != "live":
            raise RuntimeError("the publisher did not go live")
        groups = []
        for _ in range(min(VIEWER_PROCESSES, count)):
            ours, theirs = spawn.Pipe()
            process = spawn.Process(target=watch, args=(theirs, f"{server.url}/whep/{STREAM}"))
            process.start()
            groups.append((process, ours))
        processes += groups
        if not all(conn.poll(TIMEOUT) and conn.recv() == "ready" for _, conn in groups):
            raise RuntimeError("a viewers' process did not start")
        for viewer in range(count):  # one after the other: each join is measured on its own
            conn = groups[viewer % len(groups)][1]
            conn.send(("join", viewer))
            if not conn.poll(TIMEOUT):
                raise RuntimeError(f"viewer {viewer} was not answered")
            conn.recv()
        deadline = time.monotonic() + TIMEOUT
        while len(statuses(groups)["first"]) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(SETTLE)  # not a wait for a condition: what joining costs stays out
        pids = [server.process.pid] + [process.pid for process, _ in groups]
        cpu, idle, before = [shared.cpu_seconds(p) for p in pids], idle_seconds(), statuses(groups)
        started = time.time()
        time.sleep(seconds)  # the measuring window, not a wait for a condition
        cpu = [shared.cpu_seconds(p) - c for p, c in zip(pids, cpu, strict=True)]
        idle, after, window = idle_seconds() - idle, statuses(groups), time.time() - started
    finally:
        for _, conn in processes:
            with suppress(OSError):
                conn.send("stop")
        for process, _ in processes:
            process.join(10)
            process.kill()
        server.stop()
    fps = [(after["frames"].get(v, 0) - before["frames"].get(v, 0)) / window for v in range(count)]
    sound = [
        (after["sounds"].get(v, 0) - before["sounds"].get(v, 0)) / window for v in range(count)
    ]
    first = [
        (after["first"][v] - after["posted"][v]) * 1000 for v in range(count) if v in after["first"]
    ]
    return {
        "viewers": count,
        "complete": len(first) == count,
        "cpu": round(cpu[0] / window, 3),
        "cpu_per_viewer": round(cpu[0] / window / count, 4),
        "viewers_cpu": round(sum(cpu[1:]) / window, 3),
        "idle_cores": round(idle / window, 2),
        "fps_median": round(statistics.median(fps), 1),
        "fps_min": round(min(fps), 1),
        "audio_median": round(statistics.median(sound), 1),
        "first_frame_ms": spread(first),
    }


def targets(rows):
    by = {r["viewers"]: r for r in rows if "failed" not in r}
    target = f"{TARGET_VIEWERS} viewers, the slowest at {MIN_FPS} fps or more"
    if r := by.get(TARGET_VIEWERS):
        met = r["complete"] and r["fps_min"] >= MIN_FPS
        return [
            {"target": target, "measured": f"slowest viewer {r['fps_min']:.1f} fps", "met": met}
        ]
    return [{"target": target, "measured": "not measured", "met": None}]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[10, 25, 50, 100])
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = shlex.join([".venv/bin/python", "-m", "bench.broadcast_load", *sys.argv[1:]])
    data = {"machine": shared.machine(), "seconds": args.seconds, "command": command, "rows": []}
    log_dir = shared.ROOT / "bench" / "results" / "broadcast-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for count in args.viewers:
        entry = {"load": shared.load_average()}
        try:
            entry |= row(count, args.seconds, log_dir)
        except (RuntimeError, EOFError, OSError) as error:
            entry |= {"viewers": count, "failed": str(error)}
        data["rows"].append(entry)
        data["targets"] = targets(data["rows"])
        logging.info("%s", entry)
        shared.save("broadcast_load", data)
    data["machine"]["load_end"] = shared.load_average()
    shared.save("broadcast_load", data)
    for check in data["targets"]:
        verdict = {True: ": met", False: ": MISSED", None: ""}[check["met"]]
        logging.info("%s: %s%s", check["target"], check["measured"], verdict)


if __name__ == "__main__":
    main()
