"""Media that is already encoded, for aiortc peers that stand in for browsers
(tests/test_forwarding.py, bench/room_load.py): VP8 and Opus packets made once with PyAV, then
sent in a loop at their own pace by `PacketTrack`, so a sender spends no CPU on encoding."""

import asyncio
import random
import time
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamTrack

VIDEO_CLOCK = Fraction(1, 90000)
AUDIO_RATE = 48000
FPS = 15


def vp8_packets(width=320, height=240, seconds=4, shade=0, keyframe_every=FPS * 2):
    """VP8 packets of a blocky texture that scrolls, as busy to encode as a camera's picture, in
    a colour of its own for each `shade` (0-255), so that senders can be told apart by their
    frames; a keyframe every `keyframe_every` frames."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, FPS)
    codec.bit_rate = 300_000
    codec.gop_size = keyframe_every
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    texture = blocky_texture(width, height, random.Random(shade))
    packets = []
    for i in range(seconds * FPS):
        frame = av.VideoFrame(width, height, "yuv420p")
        scroll = (i * 2 * width) % len(texture)  # two lines a frame
        frame.planes[0].update(texture[scroll:] + texture[:scroll])
        for plane, value in zip(frame.planes[1:], (shade, 255 - shade), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = i
        packets += codec.encode(frame)
    packets += codec.encode(None)
    return [bytes(p) for p in packets]


def blocky_texture(width, height, rng, block=4):
    """width x height bytes of random brightness, in blocks of `block` x `block` pixels."""
    columns = width // block
    lines = []
    for _ in range(height // block):
        line = bytes(value for value in rng.randbytes(columns) for _ in range(block))
        lines += [line] * block
    return b"".join(lines)


def opus_packets(seconds=4):
    """Opus packets of 20 ms of a quiet tone each."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = AUDIO_RATE, "stereo", "s16"
    codec.bit_rate = 32_000
    packets = []
    for i in range(seconds * 50):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(bytes([i % 7, 0]) * 960 * 2)
        frame.sample_rate, frame.pts = AUDIO_RATE, i * 960
        packets += codec.encode(frame)
    return [bytes(p) for p in packets]


class PacketTrack(MediaStreamTrack):
    """Sends `packets` (bytes) over and over, one every `interval` seconds, as `av.Packet`s that
    aiortc's RTCRtpSender packetizes without encoding. Video packets say which are keyframes,
    and `restart()` (a viewer asked for a keyframe) goes back to the first packet, a keyframe."""

    def __init__(self, kind, packets, interval, clock):
        super().__init__()
        self.kind = kind
        self.packets, self.interval, self.clock = packets, interval, clock
        self.sent = self.index = 0
        self.started = None

    def restart(self):
        self.index = 0

    async def recv(self):
        if self.started is None:
            self.started = time.monotonic()
        due = self.started + self.sent * self.interval
        await asyncio.sleep(max(0, due - time.monotonic()))  # the pace of a camera or microphone
        data = self.packets[self.index % len(self.packets)]
        packet = av.Packet(data)
        packet.pts = round(self.sent * self.interval / self.clock)
        packet.time_base = self.clock
        packet.is_keyframe = self.kind == "audio" or not data[0] & 1
        self.sent += 1
        self.index += 1
        return packet


def video_track(**picture):
    return PacketTrack("video", vp8_packets(**picture), 1 / FPS, VIDEO_CLOCK)


def audio_track():
    return PacketTrack("audio", opus_packets(), 0.02, Fraction(1, AUDIO_RATE))
