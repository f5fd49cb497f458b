"""The two tracks the server peer adds to aiortc: `Forwarded` (a member's media, as they encoded
it) and `Slot` (what one receive slot of one page shows).

The server forwards: each member's browser encodes its camera and microphone once, and the server
passes those encoded frames (VP8 and Opus `av.Packet`s) on to every other member without decoding
them (step6_server_peer/forwarding.py makes aiortc's receivers hand them over; an RTCRtpSender
sends an `av.Packet` as it is). Per viewer, the server only packetizes, encrypts and sends.

A browser offers a fixed number of receive-only *slots* (see server_peer.py). Each slot's sender
gets one `Slot` track for the whole call, and `Slot.show()` switches what it carries: nothing, or
a member's packets. Why not `sender.replaceTrack()` for each switch? In aiortc a sender waits inside
`track.recv()` of the track it had, and when that track ends (its member left) the sender stops for
good. A `Slot` never ends while the call lasts, so a slot can show Ann, then nobody, then Eve.
"""

import asyncio
import time

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from step6_server_peer.forwarding import ask_for_keyframe, on_keyframe_request, vp8_size

START = time.monotonic()
KEYFRAME_REQUEST_GAP = 0.1  # seconds: viewers asking at once for one member's keyframe ask once


class Forwarded(MediaStreamTrack):
    """What `receiver` receives from a member, still encoded: `recv()` gives their VP8 or Opus
    `av.Packet`s, retimed from the member's clock onto the server's, so that a slot's
    timestamps keep rising when it switches from one member to another. `size` is the picture
    size of the last keyframe."""

    def __init__(self, source, receiver):
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.receiver = receiver
        self.offset = None  # server clock minus the member's, in their clock's ticks
        self.size = None
        self.asked = 0.0

    def request_keyframe(self):
        """Asks the member for a keyframe: a viewer cannot use pictures made of differences to
        pictures it never saw."""
        now = time.monotonic()
        if self.kind == "video" and now - self.asked >= KEYFRAME_REQUEST_GAP:
            self.asked = now
            ask_for_keyframe(self.receiver)

    async def recv(self):
        packet = await self.source.recv()
        if self.offset is None:
            self.offset = int((time.monotonic() - START) / packet.time_base) - packet.pts
        packet.pts = packet.dts = packet.pts + self.offset
        if packet.is_keyframe and self.kind == "video":
            self.size = vp8_size(bytes(packet)) or self.size
        return packet

    def stop(self):
        super().stop()
        self.source.stop()


class Slot(MediaStreamTrack):
    """What one receive slot of one page carries, sent by `sender`. `show(track, member, source)`
    starts copying `track`'s packets in (a relay subscription to `source`, a `Forwarded`);
    `show(None)` empties the slot. Video starts at a keyframe, asked of `source`: the page's
    decoder knows the previous member's pictures, not this one's. A slot that falls behind drops
    what waits, and so does video until the next keyframe, since the packets after a gap are
    differences to a lost picture. When the page itself asks for a keyframe (its picture broke),
    the request goes on to `source`."""

    def __init__(self, kind, mid, sender):
        super().__init__()
        self.kind = kind
        self.mid = mid
        self.member = None  # whose track it shows
        self.source = None
        self.queue = asyncio.Queue(maxsize=30)
        self.pump = None
        self.awaiting_keyframe = kind == "video"
        on_keyframe_request(sender, self.request_keyframe)

    def request_keyframe(self):
        if self.source is not None:
            self.source.request_keyframe()

    def show(self, track, member=None, source=None):
        self.clear()
        if track is not None:
            self.member, self.source = member, source
            self.pump = asyncio.ensure_future(self.copy(track))
            self.wait_for_keyframe()

    def wait_for_keyframe(self):
        if self.kind == "video":
            self.awaiting_keyframe = True
            self.request_keyframe()

    def clear(self):
        if self.pump is not None:
            self.pump.cancel()
            self.pump = None
        self.member = self.source = None
        while not self.queue.empty():
            self.queue.get_nowait()

    async def copy(self, track):
        try:
            while True:
                packet = await track.recv()
                if self.queue.full():
                    while not self.queue.empty():
                        self.queue.get_nowait()
                    self.wait_for_keyframe()
                if self.awaiting_keyframe and not packet.is_keyframe:
                    continue
                self.awaiting_keyframe = False
                self.queue.put_nowait(packet)
        except MediaStreamError:
            pass  # that member's track ended: they left
        finally:
            track.stop()

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        return await self.queue.get()

    def stop(self):
        self.clear()
        super().stop()
