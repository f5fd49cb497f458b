"""Encoded media out of aiortc's receivers, and keyframe requests back to the members who send it.

Why: a forwarding server never decodes. aiortc has no public way to read what an RTCRtpReceiver
received before its decoder runs, nor to ask a remote sender for a keyframe, so this module does
both through three things aiortc 1.16 does inside (checked by tests/test_forwarding.py, which
fails if a new aiortc changes them; pyproject.toml pins the aiortc versions that test passed on):

1. `aiortc.rtcrtpreceiver.decoder_worker` gets each complete encoded frame (a `JitterFrame`, with
   `data` and `timestamp`) and decodes it with a decoder from the module's global `get_decoder`.
   `enable()` puts `forward_decoder` there: its "decoding" wraps the frame's bytes in an
   `av.Packet`, which the remote track's `recv()` then returns as it is. This is for the whole
   process: every receiver aiortc makes afterwards hands over encoded frames.
2. `RTCRtpReceiver._send_rtcp_pli(ssrc)` sends a picture loss indication (RTCP PLI) to the member
   sending that stream: their browser answers with a keyframe (`ask_for_keyframe`).
3. `RTCRtpSender._handle_rtcp_packet` calls the sender's `_send_keyframe()` when a viewer's browser
   sends a PLI or FIR. `on_keyframe_request` replaces it on one sender, so that the request can go
   on to the member whose video that viewer sees.

Sending needs nothing of this: an RTCRtpSender sends an `av.Packet` without encoding it.
"""

import asyncio
from fractions import Fraction

import aiortc.rtcrtpreceiver
import av

TESTED_AIORTC = ("1.16.0",)  # the versions tests/test_forwarding.py passed on
SENDING = set()  # the tasks sending PLIs


def enable():
    """From now on, aiortc's receivers in this process give `av.Packet`s, not decoded frames."""
    aiortc.rtcrtpreceiver.get_decoder = forward_decoder


def forward_decoder(codec):
    return Forwarder(codec)


class Forwarder:
    """Stands in for aiortc's decoder: one encoded frame in, the same bytes out as an
    `av.Packet`, timed in the codec's RTP clock (90 kHz for video, 48 kHz for Opus) from the
    stream's first frame, with `is_keyframe` set for a VP8 keyframe."""

    def __init__(self, codec):
        self.video = codec.mimeType.lower().startswith("video/")
        self.time_base = Fraction(1, codec.clockRate)

    def decode(self, encoded_frame):
        packet = av.Packet(encoded_frame.data)
        packet.pts = packet.dts = encoded_frame.timestamp
        packet.time_base = self.time_base
        packet.is_keyframe = not self.video or is_vp8_keyframe(encoded_frame.data)
        return [packet]


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
