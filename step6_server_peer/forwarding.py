"""Encoded media out of aiortc's receivers, and keyframe requests back to the members who send it.

Why: a forwarding server never decodes. aiortc has no public way to read what an RTCRtpReceiver
received before its decoder runs, nor to ask a remote sender for a keyframe, so this module does
both through what aiortc 1.16 does inside (checked by tests/test_forwarding.py, which fails if a
new aiortc changes it; pyproject.toml allows only the aiortc versions that test passed on):

1. `RTCRtpReceiver.receive()` starts a decoder thread reading the receiver's
   `__decoder_queue`; `_handle_rtp_packet()`, on the event loop, puts each complete encoded frame
   there as `(codec, JitterFrame)` (a `JitterFrame` has `data` and `timestamp`), and stopping
   puts `None`. The thread decodes and hands the frames to the remote track's `_queue`, which
   the track's `recv()` reads. `hand_over_encoded(receiver)` makes that one receiver, once
   started, swap its queue for a `Handover`, which puts each frame in the track's queue at once,
   as an `av.Packet` (made by `Forwarder`): nothing is decoded, and no frame waits for a thread.
   The idle thread still ends at `None`, and ends the track. Receivers not handed over decode as
   usual, so a server that forwards and one that decodes (step 13's) can share a process.
2. `RTCRtpReceiver._send_rtcp_pli(ssrc)` sends a picture loss indication (RTCP PLI) to the member
   sending that stream: their browser answers with a keyframe (`ask_for_keyframe`).
3. `RTCRtpSender._handle_rtcp_packet` calls the sender's `_send_keyframe()` when a viewer's browser
   sends a PLI or FIR. `on_keyframe_request` replaces it on one sender, so that the request can go
   on to the member whose video that viewer sees.

Sending needs nothing of this: an RTCRtpSender sends an `av.Packet` without encoding it.
"""

import asyncio
from fractions import Fraction

import av
from aiortc import RTCRtpReceiver

TESTED_AIORTC = ("1.16.0",)  # the versions tests/test_forwarding.py passed on
SENDING = set()  # the tasks sending PLIs


def hand_over_encoded(receiver):
    """From its start on, `receiver` gives `av.Packet`s, not decoded frames. Call it before the
    connection connects (aiortc starts its receivers then): from the `track` event, say."""
    RTCRtpReceiver.receive = receive_encoded  # once is enough; it changes only marked receivers
    receiver._hands_over_encoded = True


AIORTC_RECEIVE = RTCRtpReceiver.receive


async def receive_encoded(self, parameters):
    await AIORTC_RECEIVE(self, parameters)
    queue = self._RTCRtpReceiver__decoder_queue
    # receive() may be called again; a receiver not handed over decodes, as aiortc does.
    if getattr(self, "_hands_over_encoded", False) and not isinstance(queue, Handover):
        self._RTCRtpReceiver__decoder_queue = Handover(queue, self._track._queue)


class Handover:
    """Takes the place of the queue to the decoder thread: frames go to the track at once."""

    def __init__(self, thread_queue, track_queue):
        self.thread_queue, self.track_queue = thread_queue, track_queue
        self.forwarders = {}

    def put(self, task):
        if task is None:
            self.thread_queue.put(None)  # the thread ends, and ends the track
            return
        codec, frame = task
        if codec.name not in self.forwarders:
            self.forwarders[codec.name] = Forwarder(codec)
        self.track_queue.put_nowait(self.forwarders[codec.name].packet(frame))


class Forwarder:
    """One encoded frame in, the same bytes out as an `av.Packet`, timed in the codec's RTP
    clock (90 kHz for video, 48 kHz for Opus) from the stream's first frame, with `is_keyframe`
    set for a VP8 keyframe."""

    def __init__(self, codec):
        self.video = codec.mimeType.lower().startswith("video/")
        self.time_base = Fraction(1, codec.clockRate)

    def packet(self, encoded_frame):
        packet = av.Packet(encoded_frame.data)
        packet.pts = packet.dts = encoded_frame.timestamp
        packet.time_base = self.time_base
        packet.is_keyframe = not self.video or is_vp8_keyframe(encoded_frame.data)
        return packet


def is_vp8_keyframe(data):
    """RFC 6386, 9.1: bit 0 of a VP8 frame's first byte is 0 for a keyframe."""
    return len(data) >= 10 and not data[0] & 1


def vp8_size(data):
    """The picture size a VP8 keyframe starts with (RFC 6386, 9.1), or None."""
    if not is_vp8_keyframe(data) or data[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


def ask_for_keyframe(receiver):
    """Sends a PLI for every stream `receiver` has received: their sender answers with a
    keyframe. False if there is nobody to ask yet (no packet came)."""
    streams = [source.source for source in receiver.getSynchronizationSources()]
    if not streams:
        return False
    task = asyncio.ensure_future(send_plis(receiver, streams))
    SENDING.add(task)  # held until done: a task nobody holds may be garbage-collected midway
    task.add_done_callback(SENDING.discard)
    return True


async def send_plis(receiver, streams):
    for ssrc in streams:
        await receiver._send_rtcp_pli(ssrc)


def on_keyframe_request(sender, callback):
    """Calls `callback()` whenever the browser `sender` sends to asks for a keyframe."""
    sender._send_keyframe = callback
