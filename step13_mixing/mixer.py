"""The combining server's work for one room (a `RoomMix`): one picture for everyone, one sound per
member.

Video: each member's camera arrives decoded (aiortc decodes it in a thread of its own). FPS times a
second the room's picture is composed: a grid of the members' latest pictures (`layout()`), the
effect chosen on the pages (`EFFECTS`), each tile's caption and a watermark (Pillow), then encoded
ONCE in VP8. The same encoded packets go to every member (`Stream`, shown in each member's
`Slot`, as step 6's slots show a member's packets), so a room of ten costs one encode, not ten.
Composing and encoding run in a thread of the room's own, not on the event loop that carries
every connection, so a slow encode never delays ICE, DTLS or a data channel.

Audio: each member's microphone arrives decoded too, 20 ms of 48 kHz stereo at a time. Every 20
ms the server adds up everyone's sound and gives each member the sum minus their own: they hear
the others, not themselves (their own voice back, late, would be an echo). That is one mix, and
one Opus encode (by aiortc's sender), per member.
"""

import asyncio
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError
from PIL import Image, ImageDraw, ImageFilter, ImageFont

log = logging.getLogger("mixer")

WIDTH, HEIGHT, FPS = 640, 480, 15  # the composed picture
VIDEO_BITRATE = 800_000  # bits a second, one stream for everyone
SAMPLE_RATE, CHUNK = 48_000, 960  # 20 ms of sound at a time, as aiortc decodes Opus
TICK = CHUNK / SAMPLE_RATE
CATCH_UP = 5  # chunks made at once after a late tick
CHANNELS = 2
MOST_BUFFERED = 5  # chunks of a member's sound kept waiting; older ones go (a late sound is noise)
BACKGROUND = (29, 35, 48)  # the pages' tile colour, where nobody's picture is
WATERMARK = (240, 180, 0)
FONT = ImageFont.load_default(size=16)  # Pillow's own font: nothing to install
START = time.monotonic()

# The effects a page can turn on, by name: a function from the composed picture (a Pillow image,
# the members' pictures before captions and watermark) to the picture sent. Add one here and an
# <option> on the page.
EFFECTS = {
    "none": None,
    "edges": lambda image: image.filter(ImageFilter.FIND_EDGES),
}


def layout(count, width=WIDTH, height=HEIGHT):
    """Where each of `count` tiles goes, as (x, y, w, h): a grid as square as it can be, each
    tile 4:3 and centred in its cell, in the order the members joined."""
    if count == 0:
        return []
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    cell_w, cell_h = width // columns, height // rows
    w = min(cell_w, cell_h * 4 // 3) // 2 * 2  # even sizes: the encoder halves them for colour
    h = w * 3 // 4 // 2 * 2
    places = []
    for index in range(count):
        row, column = divmod(index, columns)
        x = column * cell_w + (cell_w - w) // 2
        y = row * cell_h + (cell_h - h) // 2
        places.append((x, y, w, h))
    return places


def compose(tiles, effect, watermark):
    """The room's picture: `tiles` is [(caption, picture)], one per member in layout() order,
    each picture an RGB array of its tile's size, or None."""
    canvas = np.full((HEIGHT, WIDTH, 3), BACKGROUND, np.uint8)
    places = layout(len(tiles))
    for (_, picture), (x, y, w, h) in zip(tiles, places, strict=True):
        if picture is not None:
            canvas[y : y + h, x : x + w] = picture
    image = Image.fromarray(canvas)
    if EFFECTS[effect] is not None:
        image = EFFECTS[effect](image)
    draw = ImageDraw.Draw(image)
    for (caption, _), (x, y, w, h) in zip(tiles, places, strict=True):
        draw.rectangle((x, y + h - 22, x + w - 1, y + h - 1), fill=(0, 0, 0))
        draw.text((x + 6, y + h - 20), caption, font=FONT, fill=(255, 255, 255))
    right = 8 + 12 + draw.textlength(watermark, font=FONT)
    draw.rectangle((8, 8, right, 36), fill=WATERMARK)
    draw.text((14, 12), watermark, font=FONT, fill=(0, 0, 0))
    return image


class Encoder:
    """VP8, once for the whole room. A keyframe when asked (a newcomer, or a page whose picture
    broke); otherwise only differences to the previous picture."""

    def __init__(self):
        self.codec = av.CodecContext.create("libvpx", "w")
        self.codec.width, self.codec.height = WIDTH, HEIGHT
        self.codec.pix_fmt = "yuv420p"
        self.codec.bit_rate = VIDEO_BITRATE
        # Timed by the clock (RTP's video clock, 90 kHz), not by a frame count: on a busy machine
        # fewer pictures are made, and each then gets the bits of the time it stands for.
        self.codec.time_base = Fraction(1, 90_000)
        self.codec.framerate = FPS
        self.codec.gop_size = 3000  # keyframes come when a page asks
        self.codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self.last = -1

    def encode(self, image, keyframe):
        frame = av.VideoFrame.from_image(image).reformat(format="yuv420p")
        frame.pts = self.last = max(int((time.monotonic() - START) * 90_000), self.last + 1)
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        packets = self.codec.encode(frame)
        for packet in packets:
            packet.pts = packet.dts = frame.pts
            packet.time_base = self.codec.time_base
        return packets


class Stream:
    """What the server makes and sends as it is: pushed to every subscriber (the `Slot`s of step
    6 that carry it to the pages). `request_keyframe` is called when a slot needs one."""

    def __init__(self, kind, request_keyframe=lambda: None):
        self.kind = kind
        self.subscribers = []
        self.request_keyframe = request_keyframe

    def subscribe(self, push):
        self.subscribers.append(push)

    def unsubscribe(self, push):
        self.subscribers.remove(push)

    def push(self, media):
        for push in list(self.subscribers):
            push(media)


class Feed:
    """One member, as the mix sees them: their latest picture, their sound not yet mixed, and the
    sound made for them (`hears`: everyone else's)."""

    def __init__(self, guest):
        self.guest = guest  # step 6's Guest: member, state, published tracks
        self.picture = None
        self.sound = np.zeros(0, np.int16)
        self.hears = Stream("audio")
        self.readers = []
        self.scale_cache = (None, 0, 0, None)

    def scaled(self, width, height):
        """Their latest picture as an RGB array of a tile's size, or None. Made again only when a
        new picture came or the tile changed size (in the room's thread, its only caller)."""
        picture = self.picture
        if picture is None:
            return None
        if self.scale_cache[:3] != (picture, width, height):
            self.scale_cache = (
                picture,
                width,
                height,
                picture.reformat(width, height, "rgb24").to_ndarray(),
            )
        return self.scale_cache[3]

    def caption(self):
        state = self.guest.state or {}
        off = [
            label
            for label, on in (("muted", state.get("mic")), ("camera off", state.get("camera")))
            if on is False
        ]
        return " · ".join([self.guest.member.name, *off])

    def take_chunk(self):
        """20 ms of this member's sound (silence if none came), interleaved stereo."""
        size = CHUNK * CHANNELS
        if len(self.sound) < size:
            return np.zeros(size, np.int16)
        chunk, self.sound = self.sound[:size], self.sound[size:]
        return chunk


class RoomMix:
    """The composed picture (`picture`) and each member's sound, for one room."""

    def __init__(self, room):
        self.room = room
        self.feeds = {}  # member id -> Feed, in the order they came
        self.effect = "none"
        self.keyframe_wanted = True
        self.picture = Stream("video", self.want_keyframe)
        self.encoder = Encoder()
        self.thread = ThreadPoolExecutor(1, thread_name_prefix=f"mix-{room}")
        self.tasks = []

    def want_keyframe(self):
        self.keyframe_wanted = True

    def start(self):
        self.tasks = [
            asyncio.ensure_future(self.compose_forever()),
            asyncio.ensure_future(self.mix_forever()),
        ]

    async def stop(self):
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.thread.shutdown(wait=False)

    def add(self, guest):
        feed = Feed(guest)
        self.feeds[guest.member.id] = feed
        for track in guest.published.values():
            feed.readers.append(asyncio.ensure_future(self.read(feed, track)))
        return feed

    def remove(self, member_id):
        feed = self.feeds.pop(member_id, None)
        for reader in feed.readers if feed else []:
            reader.cancel()

    async def read(self, feed, track):
        """Keeps a member's latest picture and their sound, as aiortc decodes them."""
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    feed.picture = frame
                else:
                    samples = frame.to_ndarray().reshape(-1)
                    feed.sound = np.concatenate([feed.sound, samples])[
                        -MOST_BUFFERED * CHUNK * CHANNELS :
                    ]
        except MediaStreamError:
            feed.picture = None  # they left or stopped sending

    async def compose_forever(self):
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            feeds = list(self.feeds.values())
            keyframe, self.keyframe_wanted = self.keyframe_wanted, False
            watermark = f"{self.room} · {datetime.now():%H:%M:%S}"
            try:
                packets = await loop.run_in_executor(
                    self.thread, self.make_picture, feeds, keyframe, watermark
                )
            except Exception:
                log.exception("room %s: composing failed", self.room)
                packets = []
            for packet in packets:
                self.picture.push(packet)
            due = max(due + 1 / FPS, loop.time())  # late: carry on from now, do not catch up
            await asyncio.sleep(due - loop.time())

    def make_picture(self, feeds, keyframe, watermark):
        """In the room's thread: scale, compose, then encode."""
        places = layout(len(feeds))
        tiles = [
            (feed.caption(), feed.scaled(w, h))
            for feed, (_, _, w, h) in zip(feeds, places, strict=True)
        ]
        return self.encoder.encode(compose(tiles, self.effect, watermark), keyframe)

    async def mix_forever(self):
        loop = asyncio.get_running_loop()
        due, pts = loop.time(), 0
        while True:
            # Late (a busy machine)? Make up the chunks missed, up to CATCH_UP; past that, skip
            # ahead: the sound then has a gap, in step with the clock, not a growing delay.
            missed = int((loop.time() - due) / TICK)
            if missed > CATCH_UP:
                due, pts = due + missed * TICK, pts + missed * CHUNK
            while due <= loop.time():
                self.mix_once(pts)
                due, pts = due + TICK, pts + CHUNK
            await asyncio.sleep(due - loop.time())

    def mix_once(self, pts):
        """20 ms for everyone: the sum of every member's sound, minus each one's own."""
        feeds = list(self.feeds.values())
        chunks = [feed.take_chunk().astype(np.int32) for feed in feeds]
        everyone = sum(chunks) if chunks else 0
        for feed, own in zip(feeds, chunks, strict=True):
            feed.hears.push(sound_frame(everyone - own, pts))


def sound_frame(samples, pts):
    """20 ms of interleaved stereo as an av.AudioFrame for aiortc's Opus encoder, clipped (two
    loud voices together go past what 16 bits hold)."""
    clipped = np.clip(samples, -32768, 32767).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(clipped, format="s16", layout="stereo")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = Fraction(1, SAMPLE_RATE)
    return frame
