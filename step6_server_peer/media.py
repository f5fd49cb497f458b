"""The two tracks the server peer adds to aiortc: `Encoded` (a member's media, encoded once) and
`Slot` (what one receive slot of one page shows).

Left to itself, aiortc encodes a track separately for every RTCRtpSender that sends it: with
MediaRelay sharing one member's decoded frames among n-1 viewers, that is n-1 encoders per member,
and for sound n-1 loudness measurements in pure Python on every 20 ms frame. So each member's
track is decoded once (by aiortc's receiver), encoded once (`Encoded`), and the relay shares the
encoded packets: an RTCRtpSender sends an `av.Packet` as it is. The cost per viewer is then only
packetizing, encrypting and sending.

A browser offers a fixed number of receive-only *slots* (see server_peer.py). Each slot's sender
gets one `Slot` track for the whole call, and `Slot.show()` switches what it carries: nothing, or
a member's packets. Why not `sender.replaceTrack()` for each switch? In aiortc a sender waits inside
`track.recv()` of the track it had, and when that track ends (its member left) the sender stops for
good. A `Slot` never ends while the call lasts, so a slot can show Ann, then nobody, then Eve.
"""

import asyncio
import collections
import time
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK = Fraction(1, 90000)
VIDEO_BITRATE = 400_000  # bits a second, for the small picture the pages send (see README.md)
KEYFRAME_EVERY = 60  # frames: a viewer whose picture broke gets a fresh one within seconds
AUDIO_RATE = 48000
AUDIO_BITRATE = 48_000
START = time.monotonic()


class Encoded(MediaStreamTrack):
    """`source` (a track aiortc receives from a browser) encoded once for all viewers: `recv()`
    gives `av.Packet`s, VP8 or Opus.

    The packets are timed on one server clock, not on each browser's own, so that a slot's
    timestamps keep rising when it switches from one member to another."""

    def __init__(self, source):
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.codec = None
        self.resampler = None
        self.packets = collections.deque()
        self.next_pts = 0
        self.keyframe = False

    def request_keyframe(self):
        """The next video frame is sent whole: a new viewer cannot use pictures made of
        differences to pictures it never saw."""
        self.keyframe = True

    async def recv(self):
        while not self.packets:
            frame = await self.source.recv()
            encode = self.encode_video if self.kind == "video" else self.encode_audio
            loop = asyncio.get_running_loop()
            self.packets.extend(await loop.run_in_executor(None, encode, frame))
        return self.packets.popleft()

    def encode_video(self, frame):
        pts = max(self.next_pts, int((time.monotonic() - START) / VIDEO_CLOCK))
        frame.pts, frame.time_base = pts, VIDEO_CLOCK
        self.next_pts = pts + 1
        size = (frame.width, frame.height)
        if self.codec is None or (self.codec.width, self.codec.height) != size:
            self.codec = video_encoder(*size)  # new, or the browser resized its camera
        if self.keyframe:
            self.keyframe = False
            frame.pict_type = av.video.frame.PictureType.I
        return self.codec.encode(frame.reformat(format="yuv420p"))

    def encode_audio(self, frame):
        if self.codec is None:
            self.codec, self.resampler = audio_encoder()
            self.next_pts = int((time.monotonic() - START) * frame.sample_rate)
        # Sound is timed by counting samples, without gaps (the resampler insists).
        frame.pts, frame.time_base = self.next_pts, Fraction(1, frame.sample_rate)
        self.next_pts += frame.samples
        return [p for chunk in self.resampler.resample(frame) for p in self.codec.encode(chunk)]

    def stop(self):
        super().stop()
        self.source.stop()


def video_encoder(width, height):
    """VP8 for live video, set up as aiortc sets up its own (aiortc/codecs/vpx.py)."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.time_base = VIDEO_CLOCK
    codec.bit_rate = VIDEO_BITRATE
    codec.gop_size = KEYFRAME_EVERY
    codec.qmin, codec.qmax = 2, 56
    codec.thread_count = 1 if width * height <= 640 * 480 else 2
    codec.options = {
        "bufsize": str(VIDEO_BITRATE),
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(VIDEO_BITRATE),
        "maxrate": str(VIDEO_BITRATE),
        "noise-sensitivity": "4",
        "overshoot-pct": "15",
        "partitions": "0",
        "static-thresh": "1",
        "undershoot-pct": "100",
    }
    return codec


def audio_encoder():
    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate = AUDIO_BITRATE
    codec.format = "s16"
    codec.layout = "stereo"
    codec.sample_rate = AUDIO_RATE
    codec.time_base = Fraction(1, AUDIO_RATE)
    codec.options = {"application": "voip"}
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=960)
    return codec, resampler


class Slot(MediaStreamTrack):
    """What one receive slot of one page carries. `show(track, member, source)` starts copying
    `track`'s packets in (a relay subscription to `source`, an `Encoded`); `show(None)` empties
    the slot. A slot that falls behind drops what waits: sound simply skips, and video asks
    `source` for a keyframe, since the packets after a gap are differences to a lost picture."""

    def __init__(self, kind, mid):
        super().__init__()
        self.kind = kind
        self.mid = mid
        self.member = None  # whose track it shows
        self.source = None
        self.queue = asyncio.Queue(maxsize=30)
        self.pump = None

    def show(self, track, member=None, source=None):
        self.clear()
        if track is not None:
            self.member, self.source = member, source
            self.pump = asyncio.ensure_future(self.copy(track))
            # The page's decoder knows the previous member's pictures, not this one's.
            source.request_keyframe()

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
                    self.source.request_keyframe()
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
