"""Step 10: the server peer records the room, with everyone's knowledge.

Step 6's server peer already holds every member's media as their browser encoded it
(`media.Forwarded`: VP8 and Opus `av.Packet`s). Recording adds one more subscriber to each
member's tracks: a `Recorder` that writes those packets into a WebM file as they are (PyAV muxes
them; nothing is decoded or encoded), one file per member.

Consent is part of the protocol, on the same `chat` data channel:

- `{type: "record", on: true}` from any member starts a recording of the room; the server tells
  every member `{type: "recording", on: true, by: {id, name}}`, and each page shows the notice;
- `{type: "recording-seen"}` is the page's answer once the notice is on screen. Only then does
  the server record that member: someone who never saw the notice is never recorded. A member
  who joins during a recording gets the notice as soon as their channel opens, and is recorded
  from their answer on;
- `{type: "record", on: false}` from any member stops it; everyone gets
  `{type: "recording", on: false, by, files: [{name, url, seconds}], notRecorded: [names]}`, and
  the files can be downloaded from `url` (an unguessable folder per recording) while the server
  runs. The last member leaving stops a recording too.

Files go to RECORDINGS_DIR (default: recordings/ in the repository, which git ignores).
"""

import asyncio
import logging
import os
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av

from common.app import ROOT
from step6_server_peer.media import START
from step6_server_peer.server_peer import ServerPeer

log = logging.getLogger("recording")

RECORDINGS_DIR = Path(os.environ.get("RECORDINGS_DIR") or ROOT / "recordings")
AUDIO_RATE = 48000
CLOCKS = {"video": Fraction(1, 90000), "audio": Fraction(1, AUDIO_RATE)}  # VP8's and Opus's


class Recorder:
    """One member's media, from the moment it starts, into one WebM file: a subscriber to each of
    that member's `Forwarded` tracks, with a queue of its own. The file starts with a keyframe.

    The file is opened, written and closed in a thread of the Recorder's own (`writer`), one call
    after the other: a disk that stalls, or the muxer's work, never holds up the event loop that
    forwards every room's media."""

    def __init__(self, path, guest):
        self.path = path
        self.started = time.monotonic()
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="recorder")
        self.container, self.streams, self.tasks = None, {}, []
        sizes = {kind: track.size for kind, track in guest.published.items()}
        self.writer.submit(self.open, sizes)
        self.subscriptions = []
        for kind, track in guest.published.items():
            queue = asyncio.Queue()
            track.subscribe(queue.put_nowait)
            self.subscriptions.append((track, queue.put_nowait))
            self.tasks.append(asyncio.ensure_future(self.copy(kind, queue)))
            if kind == "video":
                track.request_keyframe()  # a file that starts with a difference decodes to nothing

    def open(self, sizes):  # in the writer thread
        self.container = av.open(str(self.path), "w", format="webm")
        for kind, size in sorted(sizes.items()):
            self.streams[kind] = self.add_stream(kind, size)

    def add_stream(self, kind, size):
        if kind == "audio":
            stream = self.container.add_stream("libopus", rate=AUDIO_RATE)
            stream.layout = "stereo"
            return stream
        stream = self.container.add_stream("libvpx", rate=15)
        # The size the member sends now (the file follows if it changes).
        stream.width, stream.height = size or (320, 240)
        stream.pix_fmt = "yuv420p"
        return stream

    async def copy(self, kind, queue):
        # Times count from the start of this file, on the server clock both tracks share.
        offset = round((self.started - START) / CLOCKS[kind])
        waiting_for_keyframe = kind == "video"
        try:
            while (packet := await queue.get()) is not None:  # None: the member left
                waiting_for_keyframe = waiting_for_keyframe and not packet.is_keyframe
                if waiting_for_keyframe or packet.pts < offset:
                    continue
                # A copy: the packet itself is shared with the viewers' senders, which time it.
                copy = av.Packet(bytes(packet))
                copy.pts = copy.dts = packet.pts - offset
                copy.time_base = packet.time_base
                copy.is_keyframe = packet.is_keyframe
                self.writer.submit(self.mux, kind, copy)
        except Exception:
            log.exception("recording %s of %s failed", kind, self.path.name)

    def mux(self, kind, packet):  # in the writer thread
        try:
            packet.stream = self.streams[kind]
            self.container.mux(packet)
        except Exception:
            log.exception("recording %s of %s failed", kind, self.path.name)

    async def stop(self):
        """Ends the file; returns how many seconds it holds."""
        for track, push in self.subscriptions:
            track.unsubscribe(push)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        # After every packet submitted before it, in the same thread.
        await asyncio.get_running_loop().run_in_executor(self.writer, self.close)
        self.writer.shutdown(wait=False)
        return round(time.monotonic() - self.started, 1)

    def close(self):  # in the writer thread
        if self.container is not None:
            self.container.close()


class Recording:
    """A recording of one room: who started it, and a Recorder per member who saw the notice."""

    def __init__(self, by):
        self.by = by  # {id, name}
        self.folder = RECORDINGS_DIR / secrets.token_urlsafe(12)  # made with its first file
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.recorders = {}  # member id -> Recorder
        self.files = []  # {name, url, seconds} of the members who left or stopped
        self.not_recorded = set()  # names of members told, who never answered
        self.count = 0  # files started

    def path_for(self, guest):
        """A file of its own for each Recorder: a member who rejoins gets a second one."""
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w\-]", "_", guest.member.name)
        return self.folder / f"{self.stamp}-{self.count}-{name}.webm"

    async def finish(self, member_id):
        recorder = self.recorders.pop(member_id, None)
        if recorder is not None:
            seconds = await recorder.stop()
            if not recorder.path.exists():
                return  # stopped before a single packet came: there is no file
            url = f"/recordings/{self.folder.name}/{recorder.path.name}"
            self.files.append({"name": recorder.path.name, "url": url, "seconds": seconds})


class RecordingServerPeer(ServerPeer):
    """Step 6's server peer, plus recordings, room by room."""

    def __init__(self, still_joined):
        super().__init__(still_joined)
        self.recordings = {}  # room name -> Recording

    def on_data(self, guest, data):
        if data.get("type") not in ("record", "recording-seen"):
            super().on_data(guest, data)
        elif not guest.chat_bucket.take():  # the chat's budget: a flood of them is refused too
            guest.send({"type": "error", "message": "too many messages; slow down"})
        elif data["type"] == "record":
            self.spawn(self.on_record(guest, data.get("on") is True))
        else:
            self.on_seen(guest)

    def on_channel(self, guest, channel):
        super().on_channel(guest, channel)
        recording = self.recordings.get(guest.member.room)
        if recording and guest.channel is channel:
            self.notify(guest, recording)  # joined during a recording: told before anything

    def notify(self, guest, recording):
        recording.not_recorded.add(guest.member.name)
        guest.send({"type": "recording", "on": True, "by": recording.by})

    async def on_record(self, guest, on):
        room = guest.member.room
        recording = self.recordings.get(room)
        if on and recording is None:
            recording = self.recordings[room] = Recording(guest.sender())
            log.info("%s started recording room %s", guest.member.name, room)
            for other in self.rooms.get(room, {}).values():
                self.notify(other, recording)
        elif not on and recording is not None:
            await self.stop_recording(room, guest.sender())

    def on_seen(self, guest):
        """The member's page shows the notice: from now on, they are recorded."""
        recording = self.recordings.get(guest.member.room)
        if recording is None or guest.member.id in recording.recorders:
            return
        recording.not_recorded.discard(guest.member.name)
        if guest.published:  # nothing to record from a member who sends nothing
            recording.recorders[guest.member.id] = Recorder(recording.path_for(guest), guest)
        log.info("recording %s", guest.member.name)

    async def stop_recording(self, room, by):
        recording = self.recordings.pop(room, None)
        if recording is None:
            return  # stopped meanwhile
        for member_id in list(recording.recorders):
            await recording.finish(member_id)
        if recording.folder.is_dir() and not any(recording.folder.iterdir()):
            recording.folder.rmdir()  # nobody was recorded: no folder is left behind
        log.info("recording of room %s stopped: %d files", room, len(recording.files))
        done = {
            "type": "recording",
            "on": False,
            "by": by,
            "files": recording.files,
            "notRecorded": sorted(recording.not_recorded),
        }
        for guest in self.rooms.get(room, {}).values():
            guest.send(done)

    async def close(self, member_id, room_name):
        recording = self.recordings.get(room_name)
        if recording is not None:
            await recording.finish(member_id)  # a member who leaves keeps their file so far
        await super().close(member_id, room_name)
        if (
            recording is not None
            and room_name not in self.rooms
            and (self.recordings.get(room_name) is recording)
        ):
            await self.stop_recording(room_name, None)  # nobody left to stop it
