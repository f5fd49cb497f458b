"""The server peer in rooms of 2 to 10 (or 12) members, three designs: *forwarding* (step 6 of this
working tree, an SFU: each member's encoded video and sound go on to every other member),
*mixing* (step 13 of this working tree, an MCU: the server decodes everyone, composes ONE 640x480
picture at 15 fps, encodes it once for everyone, and mixes each member's sound minus their own
voice) and, on request, *decode and encode* (step 6 of commit 967e039, run from a git worktree:
each member's media decoded and encoded again for the others). The designs run one after the
other at each size, each row with a fresh server.

Members are aiortc peers, a process each, that join as the page does. Forwarding: join, slots, one
offer with send-only camera and microphone and a receive-only video and audio slot per other member
the room can hold. Mixing: join, one offer with ONE sendrecv video and ONE sendrecv audio
transceiver (no slots). Each sends pre-encoded VP8 320x240 at 15 fps and Opus
(tests/encoded_source.py, a keyframe when asked) and counts what it receives as the RTP packets
arrive, in place of aiortc's jitter buffer and decoder (a video frame ends with the packet that has
the marker bit), so that the members, on the same 2 cores as the server, spend as little as they
can on receiving: the frames of each video (forwarding: one per other member; mixing: the composed
picture), the sound's packets, and the RTP payload bytes of all of it (retransmissions included;
RTP headers, SRTP and RTCP not), its downlink. They join one by one, each time until everyone sees
everyone (forwarding: every other member's video; mixing: frames of the composed picture, which
shows everyone by construction) or TIMEOUT: the row is incomplete. Then, SETTLE seconds later (the
newcomer's decoders and first keyframes out of the way), over --seconds: the server's CPU (a share
of one core), the members' (together), the machine's idle cores, the frames a second of every video
(forwarding: every member x every other; mixing: the composed picture at every member), each
member's downlink; and from the last member's offer, the first frame at it of each other member
(mixing: of the composed picture), and its first at theirs (forwarding only). Issue 24's targets
are checked and printed at the end (`targets()`).

    .venv/bin/python -m bench.room_load --sizes 2 4 --seconds 5
    .venv/bin/python -m bench.room_load --designs forwarding "decode and encode" --sizes 2 4 12

Writes bench/results/room_load.json; `python -m bench.report` puts it in
docs/server-peer-vs-mesh.md and draws docs/images/room-load.svg.
"""

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import shlex
import statistics
import subprocess
import sys
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

# design -> (step, commit): the step's server, from this working tree (None) or that commit's
DESIGNS = {"forwarding": (6, None), "mixing": (13, None), "decode and encode": (6, "967e039")}
DEFAULT_DESIGNS = ["forwarding", "mixing"]
MIXING = "mixing"  # the design whose members receive one composed picture, not slots
ROOM = "room"  # who the composed picture and the mixed sound are of, in a mixing member's counts
TIMEOUT = 30  # seconds, from a member's answer, for every member to see every other's video
SETTLE = 2  # seconds between the last join and the measurement: the newcomer's first keyframes
MIN_FPS = 14  # target: the slowest stream of a room of 6 (mixing) or 10 (forwarding)
DOWNLINK_SPREAD = 1.25  # target: mixing's downlink, largest / smallest median over room sizes


def start_server(design, cwd, log_dir):
    """The design's step with rooms of up to 12, run from `cwd`: this repository or a worktree
    of it."""
    with mock.patch("tests.server.ROOT", cwd):  # where Server starts `python -m common.run`
        return Server(DESIGNS[design][0], log_dir, MAX_ROOM_SIZE=12)


def member(conn, url, name, shade, mixing):
    """One member's process, told "join", "status" or "stop" through `conn`."""
    asyncio.run(Peer(conn, url, name, shade, mixing).run())


class Peer:
    def __init__(self, conn, url, name, shade, mixing):
        self.conn, self.url, self.name, self.pc = conn, url, name, None
        self.video, self.audio = video_track(shade=shade), audio_track()
        self.mixing = mixing  # step 13's page: one sendrecv video and audio, no slots
        self.slots = {}  # mid -> (kind, member id), as the server last said (mixing: ROOM)
        self.counts, self.first = {}, {}  # mid -> frames received, monotonic time of the first
        self.received = 0  # RTP payload bytes, every stream, retransmissions included
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
            own = {("sent", None): (self.video.sent, None), ("bytes", None): (self.received, None)}
            self.conn.send(status | own)
        else:
            self.done.set()

    def signal(self, event=None, data=None):  # in a thread: the socket.io client blocks
        if event:
            return self.signaling.sio.call(event, data, timeout=60)
        self.signaling = Member(self.url)
        own_id = self.signaling.join("load", self.name)["id"]
        return own_id, 0 if self.mixing else self.signal("slots")["slots"]

    async def join(self):
        own_id, slots = await asyncio.to_thread(self.signal)
        config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        pc = self.pc = RTCPeerConnection(config)
        direction = "sendrecv" if self.mixing else "sendonly"
        camera = pc.addTransceiver(self.video, direction=direction)
        forwarding.on_keyframe_request(camera.sender, self.video.restart)
        microphone = pc.addTransceiver(self.audio, direction=direction)
        receiving = [camera, microphone] if self.mixing else []
        for kind in ("video", "audio") * slots:
            receiving.append(pc.addTransceiver(kind, direction="recvonly"))
        for transceiver in receiving:  # aiortc calls it per packet
            transceiver.receiver._handle_rtp_packet = partial(self.count, transceiver)
        pc.createDataChannel("chat").on("message", self.on_message)
        await pc.setLocalDescription(await pc.createOffer())
        if self.mixing:  # the room's picture and sound come on the transceivers we send on
            self.slots = {t.mid: (t.kind, ROOM) for t in receiving}
        offer, sent = {"type": "offer", "sdp": pc.localDescription.sdp}, time.monotonic()
        ack = await asyncio.to_thread(self.signal, "offer", {"description": offer})
        answered = time.monotonic()
        if ack["ok"]:
            await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))
        self.conn.send({"id": own_id, "sent": sent, "answered": answered, "ack": ack})

    def on_message(self, message):
        data = json.loads(message)
        if data["type"] == "slots" and not self.mixing:
            self.slots = {s["mid"]: (s["kind"], s["id"]) for s in data["slots"]}

    async def count(self, slot, packet, arrival_time_ms):
        self.received += len(packet.payload)
        if slot.kind == "audio" or packet.marker:
            self.first.setdefault(slot.mid, time.monotonic())
            self.counts[slot.mid] = self.counts.get(slot.mid, 0) + 1


def statuses(members):
    for _, conn in members:
        conn.send("status")
    return [conn.recv() for _, conn in members]


def everyone_sees_everyone(members, ids, mixing):
    """Until every member receives every other member's video or, mixing, the room's picture."""
    wanted = [{ROOM} if mixing else set(ids) - {own} for own in ids]
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        seen = [
            {who for (kind, who), (n, _) in s.items() if n and kind == "video"}
            for s in statuses(members)
        ]
        if all(want <= got for want, got in zip(wanted, seen, strict=True)):
            return True
        time.sleep(0.2)
    return False


def idle_seconds():  # the machine's idle and iowait time so far, all cores (/proc/stat)
    idle, iowait = Path("/proc/stat").read_text().split()[4:6]
    return (int(idle) + int(iowait)) / os.sysconf("SC_CLK_TCK")


def spread(ms):
    return {"median": round(statistics.median(ms)), "max": round(max(ms))} if ms else None


def start_members(url, size, mixing):
    spawn, members = multiprocessing.get_context("spawn"), []
    for i in range(size):
        conn, theirs = spawn.Pipe()
        args = (theirs, url, f"m{i}", i * 255 // size, mixing)  # each its own picture
        members.append((spawn.Process(target=member, args=args, daemon=True), conn))
        members[-1][0].start()
    if not all(conn.poll(4 * TIMEOUT) and conn.recv() == "ready" for _, conn in members):
        raise RuntimeError("a member process did not start")
    return members


def room(design, cwd, size, seconds, log_dir):
    """One row: a fresh server, `size` members joining one by one, `seconds` of measurement."""
    server, members, joins, complete = start_server(design, cwd, log_dir), [], [], True
    mixing = design == MIXING
    try:
        members = start_members(server.url, size, mixing)
        for i, (_, conn) in enumerate(members):
            conn.send("join")
            joins.append(conn.recv() if conn.poll(TIMEOUT + 60) else {"ack": {"ok": 0}})
            if not joins[-1]["ack"].get("ok"):
                raise RuntimeError(f"member {i} was not answered: {joins[-1]['ack']}")
            ids = [j["id"] for j in joins]
            complete = complete and everyone_sees_everyone(members[: i + 1], ids, mixing)
        time.sleep(SETTLE)  # not a wait for a condition: what starting costs stays out
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
    # frames a second of every stream received and sent; bytes a second each member received
    rates, videos = {"video": [], "audio": [], "sent": [], "bytes": []}, 1 if mixing else size - 1
    for then, now in zip(before, after, strict=True):
        for (kind, who), (n, _) in now.items():
            rates[kind].append((n - then.get((kind, who), (0,))[0]) / window)
        rates["video"] += [0] * (videos - sum(k == "video" for k, _ in now))  # slots left empty
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
        "downlink_kbps": round(statistics.median(rates["bytes"]) * 8 / 1000),  # RTP payload
        "downlink_max_kbps": round(max(rates["bytes"]) * 8 / 1000),
        "answer_ms": round((joins[-1]["answered"] - sent) * 1000),
        "newcomer_ms": spread([(t - sent) * 1000 for t in firsts]),
        "existing_ms": spread([(t - sent) * 1000 for t in firsts_of_new]),
        "log": sorted({line for line in log if "WARNING" in line or "Error" in line})[:5],
    }


@contextmanager
def checkouts(designs):
    """design -> the folder its server runs in: here, or a worktree of its commit."""
    with tempfile.TemporaryDirectory() as tmp:
        commits = {d: DESIGNS[d][1] for d in designs}
        folders = {d: Path(tmp) / c if c else shared.ROOT for d, c in commits.items()}
        old = [(folder, commits[d]) for d, folder in folders.items() if commits[d]]
        for folder, commit in old:
            git = ["git", "worktree", "add", "--detach", str(folder), commit]
            subprocess.run(git, cwd=shared.ROOT, check=True, capture_output=True)
        try:
            yield folders, Path(tmp)
        finally:
            for folder, _ in old:
                subprocess.run(["git", "worktree", "remove", "--force", folder], cwd=shared.ROOT)


def targets(rows):
    """Issue 24's targets, as [{"target", "measured", "met"}] (met: None when not measured):
    mixing composes a room of 6 at MIN_FPS or more and gives each member a downlink that does
    not grow with the room; forwarding keeps every stream of a room of 10 at MIN_FPS or more."""
    by = {(r["design"], r["size"]): r for r in rows if "failed" not in r}
    checks = []
    for design, size, what in ((MIXING, 6, "composed"), ("forwarding", 10, "every stream")):
        target = f"{design}: a room of {size}, {what} at {MIN_FPS} fps or more"
        if r := by.get((design, size)):
            met = r["complete"] and r["fps_min"] >= MIN_FPS
            checks.append((target, f"slowest member {r['fps_min']:.1f} fps", met))
        else:
            checks.append((target, "not measured", None))
    target = f"mixing: each member's downlink the same in every room (within {DOWNLINK_SPREAD}x)"
    kbps = {s: r["downlink_kbps"] for (d, s), r in sorted(by.items()) if d == MIXING}
    if len(kbps) > 1 and min(kbps.values()) > 0:
        spread = max(kbps.values()) / min(kbps.values())
        listed = ", ".join(f"{kbps[s]} ({s})" for s in kbps)
        measured = f"median kbit/s {listed}: largest / smallest {spread:.2f}"
        checks.append((target, measured, spread <= DOWNLINK_SPREAD))
    else:
        checks.append((target, "not measured", None))
    return [{"target": t, "measured": m, "met": met} for t, m, met in checks]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 6, 8, 10])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=DEFAULT_DESIGNS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = shlex.join([".venv/bin/python", "-m", "bench.room_load", *sys.argv[1:]])
    data = {"machine": shared.machine(), "seconds": args.seconds, "command": command, "rows": []}
    with checkouts(args.designs) as (folders, tmp):
        for size in args.sizes:  # the designs one after the other: the same machine conditions
            for design in args.designs:
                row = {"design": design, "size": size, "load": shared.load_average()}
                try:
                    row |= room(design, folders[design], size, args.seconds, tmp)
                except (RuntimeError, EOFError) as error:  # a member failed to start or join
                    row["failed"] = str(error)
                data["rows"].append(row)
                data["targets"] = targets(data["rows"])
                logging.info("%s", data["rows"][-1])
                shared.save("room_load", data)
    data["machine"]["load_end"] = shared.load_average()
    shared.save("room_load", data)
    for check in data["targets"]:
        verdict = {True: ": met", False: ": MISSED", None: ""}[check["met"]]
        logging.info("%s: %s%s", check["target"], check["measured"], verdict)


if __name__ == "__main__":
    main()
