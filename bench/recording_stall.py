"""Does recording hold up forwarding? Step 10's server with two synthetic members (aiortc peers in
this process, as bench/room_load.py's): Ann sends pre-encoded VP8 320x240 at 15 fps and Opus
(tests/encoded_source.py), Bob receives her video through his slot and notes when each of its
frames arrives (the RTP packet with the marker bit), without decoding it. Both answer every
recording notice, so both are recorded.

A run: --seconds of call without recording (the baseline), then --cycles times: Ann starts a
recording, --hold seconds, Ann stops it, and the next cycle starts once the server has said it
stopped. Measured at Bob: the longest gap between two of Ann's frames during the baseline and
during the cycles (their starts and stops are where a file is opened and closed), and the frames
a second. Each --commits entry runs step 10 as that commit has it (a git worktree; "tree" is this
working tree), one after the other, --runs times in turn.

    .venv/bin/python -m bench.recording_stall --commits 9d5e3a1 tree --runs 3

Writes bench/results/recording_stall.json; `python -m bench.report` puts it in
docs/benchmarks.md.
"""

import argparse
import asyncio
import itertools
import json
import logging
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from unittest import mock

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench import shared
from step6_server_peer import forwarding
from tests.encoded_source import audio_track, video_track
from tests.server import Server
from tests.signaling_client import Member

STEP = 10


class Peer:
    """One member: joins, offers its tracks and the slots, answers every recording notice."""

    def __init__(self, url, name, send):
        self.url, self.name, self.send = url, name, send
        self.frames = {}  # member id -> arrival times of their video frames
        self.slots = {}  # mid -> member id
        self.stopped = asyncio.Event()
        self.channel = None

    async def join(self, room):
        self.signaling = Member(self.url)
        ack = await asyncio.to_thread(self.signaling.join, room, self.name)
        self.id = ack["id"]
        slots = (await asyncio.to_thread(self.signaling.call, "slots"))["slots"]
        config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        pc = self.pc = RTCPeerConnection(config)
        if self.send:
            video = video_track()
            camera = pc.addTransceiver(video, direction="sendonly")
            forwarding.on_keyframe_request(camera.sender, video.restart)
            pc.addTransceiver(audio_track(), direction="sendonly")
        for kind in ("video", "audio") * slots:
            receiving = pc.addTransceiver(kind, direction="recvonly")
            if kind == "video":
                receiving.receiver._handle_rtp_packet = partial(self.arrived, receiving)
        self.channel = pc.createDataChannel("chat")
        self.channel.on("message", self.on_message)
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"description": {"type": "offer", "sdp": pc.localDescription.sdp}}
        ack = await asyncio.to_thread(self.signaling.call, "offer", offer)
        await pc.setRemoteDescription(RTCSessionDescription(**ack["description"]))

    async def arrived(self, transceiver, packet, arrival_time_ms):
        who = self.slots.get(transceiver.mid)
        if who and packet.marker:
            self.frames.setdefault(who, []).append(time.monotonic())

    def on_message(self, message):
        data = json.loads(message)
        if data["type"] == "slots":
            self.slots = {s["mid"]: s["id"] for s in data["slots"] if s["kind"] == "video"}
        elif data["type"] == "recording" and data["on"]:
            self.channel.send(json.dumps({"type": "recording-seen"}))
        elif data["type"] == "recording":
            self.stopped.set()

    def record(self, on):
        self.channel.send(json.dumps({"type": "record", "on": on}))

    async def close(self):
        await self.pc.close()
        await asyncio.to_thread(self.signaling.close)


def longest_gap_ms(times, start, end):
    inside = [t for t in times if start <= t <= end]
    return (
        round(max(b - a for a, b in itertools.pairwise(inside)) * 1000) if len(inside) > 1 else None
    )


async def call(url, seconds, cycles, hold):
    room = f"stall-{uuid.uuid4().hex[:8]}"
    ann, bob = Peer(url, "Ann", send=True), Peer(url, "Bob", send=False)
    await ann.join(room)
    await bob.join(room)
    try:
        deadline = time.monotonic() + 30
        while len(bob.frames.get(ann.id, [])) < 30:  # two seconds of Ann's video at Bob
            if time.monotonic() > deadline:
                raise RuntimeError("Bob never received Ann's video")
            await asyncio.sleep(0.1)
        baseline = time.monotonic()
        await asyncio.sleep(seconds)  # the baseline window, not a wait for a condition
        recording = time.monotonic()
        for _ in range(cycles):
            ann.stopped.clear()
            ann.record(True)
            await asyncio.sleep(hold)  # the length of a recording, not a wait for a condition
            ann.record(False)
            await asyncio.wait_for(ann.stopped.wait(), 30)
        end = time.monotonic()
        frames = bob.frames[ann.id]
        return {
            "baseline_gap_ms": longest_gap_ms(frames, baseline, recording),
            "recording_gap_ms": longest_gap_ms(frames, recording, end),
            "fps_recording": round(
                sum(recording <= t <= end for t in frames) / (end - recording), 1
            ),
        }
    finally:
        await ann.close()
        await bob.close()


def run(folder, log_dir, args):
    recordings = Path(tempfile.mkdtemp(prefix="recordings-"))
    with mock.patch("tests.server.ROOT", folder):
        server = Server(STEP, log_dir, RECORDINGS_DIR=recordings)
    try:
        return asyncio.run(call(server.url, args.seconds, args.cycles, args.hold))
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(recordings)], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", nargs="+", default=["tree"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--hold", type=float, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = shlex.join([".venv/bin/python", "-m", "bench.recording_stall", *sys.argv[1:]])
    data = {"machine": shared.machine(), "command": command, "args": vars(args), "runs": []}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as cleanup:
        folders = {}
        for commit in args.commits:
            if commit == "tree":
                folders[commit] = shared.ROOT
                continue
            folder = Path(tmp) / commit
            git = ["git", "worktree", "add", "--detach", str(folder), commit]
            subprocess.run(git, cwd=shared.ROOT, check=True, capture_output=True)
            remove = ["git", "worktree", "remove", "--force", str(folder)]
            cleanup.callback(subprocess.run, remove, cwd=shared.ROOT)
            folders[commit] = folder
        for index in range(args.runs):  # the commits in turn: the same machine conditions
            for commit, folder in folders.items():
                row = {"commit": commit, "run": index + 1, "load": shared.load_average()}
                row |= run(folder, Path(tmp), args)
                data["runs"].append(row)
                logging.info("%s", row)
                shared.save("recording_stall", data)
    data["summary"] = {
        commit: {
            key: statistics.median(r[key] for r in data["runs"] if r["commit"] == commit)
            for key in ("baseline_gap_ms", "recording_gap_ms", "fps_recording")
        }
        for commit in args.commits
    }
    data["machine"]["load_end"] = shared.load_average()
    shared.save("recording_stall", data)
    logging.info("%s", data["summary"])


if __name__ == "__main__":
    main()
