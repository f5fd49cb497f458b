"""Step 6's server in rooms of 2 to 12 members: forwarding (this working tree) against decoding
and encoding again (step 6 of commit 967e039, run from a git worktree), both designs at each size
in turn, each row with a fresh server. Members are aiortc peers, a process each, that join as the
page does (join, slots, one offer with a receive-only video and audio slot per other member the
room can hold); each sends pre-encoded VP8 320x240 at 15 fps and Opus (tests/encoded_source.py,
a keyframe when asked) and counts its slots' frames as their RTP packets arrive, in place of
aiortc's jitter buffer and decoder (a video frame ends with the packet that has the marker bit), so
that the members, on the same 2 cores as the server, spend as little as they can on receiving.
They join one by one, each time until everyone receives everyone else's video (or TIMEOUT: the
row is incomplete). Then, over --seconds: the server's CPU (a share of one core), the members'
(together), the machine's idle cores, the frames a second of every stream (every member x every
other); and from the last member's offer, the first frame of each other at it, and its at theirs.

    .venv/bin/python -m bench.room_load --sizes 2 4 --seconds 5 --designs forwarding

Writes bench/results/room_load.json.
"""

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from unittest import mock

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench import shared
from step6_server_peer import forwarding
from tests.encoded_source import audio_track, video_track
from tests.server import Server
from tests.signaling_client import Member

DESIGNS = {"forwarding": None, "decode and encode": "967e039"}  # design -> commit (None: here)
TIMEOUT = 30  # seconds, from a member's answer, for every member to see every other's video


def step6(cwd, log_dir):
    """Step 6 with rooms of up to 12, run from `cwd`: this repository or a worktree of it."""
    with mock.patch("tests.server.ROOT", cwd):  # where Server starts `python -m common.run`
        return Server(6, log_dir, MAX_ROOM_SIZE=12)


def member(conn, url, name, shade):
    """One member's process, told "join", "status" or "stop" through `conn`."""
    asyncio.run(Peer(conn, url, name, shade).run())


class Peer:
    def __init__(self, conn, url, name, shade):
        self.conn, self.url, self.name, self.pc = conn, url, name, None
        self.video, self.audio = video_track(shade=shade), audio_track()
        self.slots = {}  # mid -> (kind, member id), as the server last said
        self.counts, self.first = {}, {}  # mid -> frames received, monotonic time of the first
        self.tasks, self.done = set(), asyncio.Event()

    async def run(self):
        asyncio.get_running_loop().add_reader(self.conn.fileno(), self.command)
        self.conn.send("ready")
        await self.done.wait()
        await self.pc.close() if self.pc else None

    def command(self):
        what = self.conn.recv()
        if what == "join":
            self.tasks.add(asyncio.ensure_future(self.join()))
        elif what == "status":  # (kind, member id) -> (frames, time of the first); and its own
            status = {s: (self.counts.get(m, 0), self.first.get(m)) for m, s in self.slots.items()}
            self.conn.send(status | {("sent", None): (self.video.sent, None)})
        else:
            self.done.set()

    def signal(self, event=None, data=None):  # in a thread: the socket.io client blocks
        if event:
            return self.signaling.sio.call(event, data, timeout=60)
        self.signaling = Member(self.url)
        return self.signaling.join("load", self.name)["id"], self.signal("slots")["slots"]

    async def join(self):
        own_id, slots = await asyncio.to_thread(self.signal)
        config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        pc = self.pc = RTCPeerConnection(config)
        sender = pc.addTransceiver(self.video, direction="sendonly").sender
        forwarding.on_keyframe_request(sender, self.video.restart)
        pc.addTransceiver(self.audio, direction="sendonly")
        for kind in ("video", "audio") * slots:
            slot = pc.addTransceiver(kind, direction="recvonly")
            slot.receiver._handle_rtp_packet = partial(
                self.count, slot
            )  # aiortc calls it per packet
        pc.createDataChannel("chat").on("message", self.on_message)
        await pc.setLocalDescription(await pc.createOffer())
        offer, sent = {"type": "offer", "sdp": pc.localDescription.sdp}, time.monotonic()
        ack = await asyncio.to_thread(self.signal, "offer", {"description": offer})
        answered = time.monotonic()
        if ack["ok"]:
            await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
        self.conn.send({"id": own_id, "sent": sent, "answered": answered, "ack": ack})

    def on_message(self, message):
        data = json.loads(message)
        if data["type"] == "slots":
            self.slots = {s["mid"]: (s["kind"], s["id"]) for s in data["slots"]}

    async def count(self, slot, packet, arrival_time_ms):
        if slot.kind == "audio" or packet.marker:
            self.first.setdefault(slot.mid, time.monotonic())
            self.counts[slot.mid] = self.counts.get(slot.mid, 0) + 1


def statuses(members):
    for _, conn in members:
        conn.send("status")
    return [conn.recv() for _, conn in members]


def everyone_sees_everyone(members, ids):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        seen = [
            {who for (kind, who), (n, _) in s.items() if n and kind == "video"}
            for s in statuses(members)
        ]
        if all(set(ids) - {own} <= got for own, got in zip(ids, seen, strict=True)):
            return True
        time.sleep(0.2)
    return False


def idle_seconds():  # the machine's idle and iowait time so far, all cores (/proc/stat)
    idle, iowait = Path("/proc/stat").read_text().split()[4:6]
    return (int(idle) + int(iowait)) / os.sysconf("SC_CLK_TCK")


def spread(ms):
    return {"median": round(statistics.median(ms)), "max": round(max(ms))} if ms else None


def start_members(url, size):
    spawn, members = multiprocessing.get_context("spawn"), []
    for i in range(size):
        conn, theirs = spawn.Pipe()
        args = (theirs, url, f"m{i}", i * 255 // size)  # each its own picture
        members.append((spawn.Process(target=member, args=args, daemon=True), conn))
        members[-1][0].start()
    if not all(conn.poll(4 * TIMEOUT) and conn.recv() == "ready" for _, conn in members):
        raise RuntimeError("a member process did not start")
    return members


def room(cwd, size, seconds, log_dir):
    """One row: a fresh server, `size` members joining one by one, `seconds` of measurement."""
    server, members, joins, complete = step6(cwd, log_dir), [], [], True
    try:
        members = start_members(server.url, size)
        for i, (_, conn) in enumerate(members):
            conn.send("join")
            joins.append(conn.recv() if conn.poll(TIMEOUT + 60) else {"ack": {"ok": 0}})
            if not joins[-1]["ack"].get("ok"):
                raise RuntimeError(f"member {i} was not answered: {joins[-1]['ack']}")
            ids = [j["id"] for j in joins]
            complete = complete and everyone_sees_everyone(members[: i + 1], ids)
        pids = [server.process.pid] + [process.pid for process, _ in members]
        cpu, idle, before = [shared.cpu_seconds(p) for p in pids], idle_seconds(), statuses(members)
        started = time.time()
        time.sleep(seconds)  # the measuring window, not a wait for a condition
        cpu = [shared.cpu_seconds(p) - c for p, c in zip(pids, cpu, strict=True)]
        idle, after, window = idle_seconds() - idle, statuses(members), time.time() - started
    finally:
        for _, conn in members:
            with suppress(OSError):
                conn.send("stop")
        for process, _ in members:
            process.join(10)
            process.kill()
        server.stop()
    rates = {"video": [], "audio": [], "sent": []}  # frames a second of every stream
    for then, now in zip(before, after, strict=True):
        for (kind, who), (n, _) in now.items():
            rates[kind].append((n - then.get((kind, who), (0,))[0]) / window)
        rates["video"] += [0] * (size - 1 - sum(k == "video" for k, _ in now))  # slots left empty
    sent, its_video = joins[-1]["sent"], ("video", ids[-1])
    firsts = [t for (kind, _), (_, t) in after[-1].items() if kind == "video" and t]
    firsts_of_new = [s[its_video][1] for s in after[:-1] if s.get(its_video, (0, 0))[1]]
    log = server.log_path.read_text().splitlines()
    return {
        "complete": complete,
        "cpu": round(cpu[0] / window, 3),
        "cpu_per_member": round(cpu[0] / window / size, 3),
        "members_cpu": round(sum(cpu[1:]) / window, 3),
        "idle_cores": round(idle / window, 2),
        "fps_median": round(statistics.median(rates["video"]), 1),
        "fps_min": round(min(rates["video"]), 1),
        "audio_median": round(statistics.median(rates["audio"]), 1),
        "sent_min": round(min(rates["sent"]), 1),  # video frames a second a member sent
        "answer_ms": round((joins[-1]["answered"] - sent) * 1000),
        "newcomer_ms": spread([(t - sent) * 1000 for t in firsts]),
        "existing_ms": spread([(t - sent) * 1000 for t in firsts_of_new]),
        "log": sorted({line for line in log if "WARNING" in line or "Error" in line})[:5],
    }


@contextmanager
def checkouts(designs):
    """design -> the folder its server runs in: here, or a worktree of its commit."""
    with tempfile.TemporaryDirectory() as tmp:
        folders = {d: Path(tmp) / DESIGNS[d] if DESIGNS[d] else shared.ROOT for d in designs}
        old = [(folder, DESIGNS[d]) for d, folder in folders.items() if DESIGNS[d]]
        for folder, commit in old:
            git = ["git", "worktree", "add", "--detach", str(folder), commit]
            subprocess.run(git, cwd=shared.ROOT, check=True, capture_output=True)
        try:
            yield folders, Path(tmp)
        finally:
            for folder, _ in old:
                subprocess.run(["git", "worktree", "remove", "--force", folder], cwd=shared.ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 6, 8, 10, 12])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=list(DESIGNS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = {"machine": shared.machine(), "seconds": args.seconds, "rows": []}
    with checkouts(args.designs) as (folders, tmp):
        for size in args.sizes:  # the designs one after the other: the same machine conditions
            for design in args.designs:
                row = {"design": design, "size": size, "load": shared.load_average()}
                try:
                    row |= room(folders[design], size, args.seconds, tmp)
                except (RuntimeError, EOFError) as error:  # a member failed to start or join
                    row["failed"] = str(error)
                data["rows"].append(row)
                logging.info("%s", data["rows"][-1])
                shared.save("room_load", data)


if __name__ == "__main__":
    main()
