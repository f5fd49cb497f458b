"""What the server peer adds to aiortc's tracks: `Forwarded` (a member's media, as they encoded
it, for everyone who shows it) and `Slot` (the track of one receive slot of one page).

The server forwards: each member's browser encodes its camera and microphone once, and the server
passes those encoded frames (VP8 and Opus `av.Packet`s) on to every other member without decoding
them (step6_server_peer/forwarding.py makes aiortc's receivers hand them over; an RTCRtpSender
sends an `av.Packet` as it is). Per viewer, the server only queues, packetizes, encrypts and
sends: a member's packet goes straight into the queue of every slot that shows them.

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
KEYFRAME_RETRY = 0.5  # seconds a slot waits for its keyframe before it asks again


class Forwarded:
    """What `receiver` receives from a member, still encoded: their VP8 or Opus `av.Packet`s,
    each passed at once to every subscriber (`subscribe(push)`: the slots showing this member,
    a recording), and `None` when the member's track ends. The packets are retimed from the
    member's clock onto the server's, so that a slot's timestamps keep rising when it switches
    from one member to another. `size` is the picture size of the last keyframe.

    It reads the member's track from `start()` on, watched or not: what aiortc receives and
    nobody reads would pile up in memory."""

    def __init__(self, source, receiver):
        self.kind = source.kind
        self.source = source
        self.receiver = receiver
        self.subscribers = []
        self.offset = None  # server clock minus the member's, in their clock's ticks
        self.size = None
        self.asked = 0.0
        self.pump = None

    def start(self):
        self.pump = asyncio.ensure_future(self.forward())

    def subscribe(self, push):
        self.subscribers.append(push)

    def unsubscribe(self, push):
        self.subscribers.remove(push)

    def request_keyframe(self):
        """Asks the member for a keyframe: a viewer cannot use pictures made of differences to
        pictures it never saw."""
        now = time.monotonic()
        recently = now - self.asked < KEYFRAME_REQUEST_GAP
        if self.kind == "video" and not recently and ask_for_keyframe(self.receiver):
            self.asked = now

    async def forward(self):
        try:
            while True:
                packet = self.retime(await self.source.recv())
                for push in list(self.subscribers):
                    push(packet)
        except MediaStreamError:
            for push in list(self.subscribers):
                push(None)  # the member left

    def retime(self, packet):
        if self.offset is None:
            self.offset = int((time.monotonic() - START) / packet.time_base) - packet.pts
        packet.pts = packet.dts = packet.pts + self.offset
        if packet.is_keyframe and self.kind == "video":
            self.size = vp8_size(bytes(packet)) or self.size
        return packet

    def stop(self):
        if self.pump is not None:
            self.pump.cancel()
        self.source.stop()


class Slot(MediaStreamTrack):
    """What one receive slot of one page carries, sent by `sender`. `show(source, member)` starts
    passing `source`'s packets on (a `Forwarded`); `show(None)` empties the slot. Video starts at
    a keyframe, asked of `source`: the page's decoder knows the previous member's pictures, not
    this one's. A slot that falls behind drops what waits, and so does video until the next
    keyframe, since the packets after a gap are differences to a lost picture. When the page
    itself asks for a keyframe (its picture broke), the request goes on to `source`."""

    def __init__(self, kind, mid, sender):
        super().__init__()
        self.kind = kind
        self.mid = mid
        self.member = None  # whose track it shows
        self.source = None
        self.queue = asyncio.Queue(maxsize=30)
        self.awaiting_keyframe = kind == "video"
        self.asked_at = 0.0
        on_keyframe_request(sender, self.request_keyframe)

    def request_keyframe(self):
        if self.source is not None:
            self.source.request_keyframe()

    def show(self, source, member=None):
        self.clear()
        if source is not None:
            self.member, self.source = member, source
            source.subscribe(self.push)
            self.wait_for_keyframe()

    def wait_for_keyframe(self):
        if self.kind == "video":
            self.awaiting_keyframe = True
            self.asked_at = time.monotonic()
            self.request_keyframe()

    def clear(self):
        if self.source is not None:
            self.source.unsubscribe(self.push)
        self.member = self.source = None
        while not self.queue.empty():
            self.queue.get_nowait()

    def push(self, packet):
        if packet is None:
            return  # that member left: the server peer empties the slot
        if self.queue.full():
            while not self.queue.empty():
                self.queue.get_nowait()
            self.wait_for_keyframe()
        if self.awaiting_keyframe and not packet.is_keyframe:
            if time.monotonic() - self.asked_at >= KEYFRAME_RETRY:
                self.wait_for_keyframe()  # the request or its answer was lost: ask again
            return
        self.awaiting_keyframe = False
        self.queue.put_nowait(packet)

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        return await self.queue.get()

    def stop(self):
        self.clear()
        super().stop()
