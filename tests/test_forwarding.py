"""step6_server_peer/forwarding.py relies on three things aiortc does inside. These tests fail, and
say which, if a new aiortc stops doing them: then the server would decode again, or forward
nothing, or never get a keyframe to a viewer. No browser: two aiortc peers in this process. Then
how step 6's media.py uses it: keyframes for a slot, and one clock for everyone's packets."""

import asyncio
import importlib.metadata
import inspect
import re
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import aiortc.rtcrtpreceiver
import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import RemoteStreamTrack

from step6_server_peer import forwarding
from step6_server_peer.media import KEYFRAME_RETRY, START, Forwarded, Slot
from tests.encoded_source import audio_track, video_track

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10


def test_aiortc_still_hands_frames_to_its_decoder_through_the_queue_forwarding_swaps():
    queue = "_RTCRtpReceiver__decoder_queue"
    assert {queue, "put"} <= set(RTCRtpReceiver._handle_rtp_packet.__code__.co_names), (
        "RTCRtpReceiver._handle_rtp_packet no longer puts frames in __decoder_queue: "
        "forwarding's Handover would never see them, and the server would decode again"
    )
    assert {queue, "_track", "_queue"} <= set(RTCRtpReceiver.receive.__code__.co_names), (
        "RTCRtpReceiver.receive() no longer starts the decoder on __decoder_queue and the track's"
        " _queue: forwarding.receive_encoded() has nothing to swap"
    )
    assert "_queue" in RemoteStreamTrack.recv.__code__.co_names, "the track reads another queue"
    assert inspect.iscoroutinefunction(RTCRtpReceiver.receive)


def test_aiortc_still_has_the_keyframe_hooks_forwarding_uses():
    assert inspect.iscoroutinefunction(RTCRtpReceiver._send_rtcp_pli), "no receiver PLI to send"
    assert "_send_keyframe" in RTCRtpSender._handle_rtcp_packet.__code__.co_names, (
        "an RTCRtpSender no longer calls _send_keyframe() on a viewer's PLI: "
        "a viewer's request would not reach the member it watches"
    )


def test_the_decoder_stand_in_returns_the_frame_as_a_packet():
    class Vp8:
        mimeType, clockRate = "video/VP8", 90000

    keyframe = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xF0, 0x00]) + b"rest"
    packet = forwarding.Forwarder(Vp8()).packet(JitterFrame(keyframe, 9000))
    assert bytes(packet) == keyframe and packet.pts == 9000 and float(packet.time_base) == 1 / 90000
    assert packet.is_keyframe and forwarding.vp8_size(keyframe) == (320, 240)
    delta = forwarding.Forwarder(Vp8()).packet(JitterFrame(b"\x11" + keyframe[1:], 12000))
    assert not delta.is_keyframe and forwarding.vp8_size(bytes(delta)) is None


def test_the_tested_aiortc_versions_are_the_ones_pyproject_allows():
    installed = importlib.metadata.version("aiortc")
    assert installed in forwarding.TESTED_AIORTC, (
        f"aiortc {installed} is not among the versions forwarding was tested on "
        f"{forwarding.TESTED_AIORTC}: run these tests, then add it there and to pyproject.toml"
    )
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (aiortc_range,) = [d for d in dependencies if d.startswith("aiortc")]
    low, high = re.fullmatch(r"aiortc>=([\d.]+),<([\d.]+)", aiortc_range).groups()
    for version in forwarding.TESTED_AIORTC:
        assert as_tuple(low) <= as_tuple(version) < as_tuple(high), aiortc_range


def run_alone(coroutine):
    """Runs `coroutine` to its end, within TIMEOUT, on an event loop in a thread of its own:
    Playwright's sync API keeps one running in this thread once a browser test has run."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, asyncio.wait_for(coroutine, TIMEOUT)).result()


def as_tuple(version):
    return tuple(int(part) for part in version.split("."))


@pytest.fixture
def decoders_made(monkeypatch):
    """The list of the decoders aiortc makes during the test (RTCRtpReceiver.receive restored
    after it, as hand_over_encoded() replaces it)."""
    monkeypatch.setattr(RTCRtpReceiver, "receive", RTCRtpReceiver.receive)
    made, make = [], aiortc.rtcrtpreceiver.get_decoder
    monkeypatch.setattr(
        aiortc.rtcrtpreceiver, "get_decoder", lambda codec: made.append(codec) or make(codec)
    )
    return made


def test_a_receiver_gives_what_was_sent_and_its_pli_reaches_the_sender(decoders_made):
    run_alone(forward_between_two_peers())
    assert decoders_made == []


def test_a_receiver_not_handed_over_still_decodes_in_the_same_process(decoders_made):
    """Forwarding is a choice per receiver: step 13's server decodes while step 6's forwards."""
    run_alone(forward_between_two_peers(hand_over=False))
    assert {codec.name for codec in decoders_made} == {"VP8", "opus"}


async def forward_between_two_peers(hand_over=True):
    # No ICE servers: loopback needs none, and aiortc's default would look up a public STUN server.
    sending, receiving = (RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(2))
    video = video_track(width=160, height=120, seconds=1)
    sent = set(video.packets)
    video_sender = sending.addTrack(video)
    sending.addTrack(audio_track())
    arrived = {}

    def on_track(track):
        arrived.setdefault(track.kind, track)
        (receiver,) = [t.receiver for t in receiving.getTransceivers() if t.receiver.track is track]
        if hand_over:
            forwarding.hand_over_encoded(receiver)

    receiving.on("track", on_track)
    try:
        await sending.setLocalDescription(await sending.createOffer())
        await receiving.setRemoteDescription(sending.localDescription)
        await receiving.setLocalDescription(await receiving.createAnswer())
        await sending.setRemoteDescription(receiving.localDescription)
        first = await arrived["video"].recv()
        if not hand_over:
            assert isinstance(first, av.VideoFrame) and first.width == 160
            assert isinstance(await arrived["audio"].recv(), av.AudioFrame)
            return
        # The encoded frame itself, not a decoded picture: the same bytes the sender sent.
        assert bytes(first) in sent and first.is_keyframe
        assert forwarding.vp8_size(bytes(first)) == (160, 120)
        sound = await arrived["audio"].recv()
        assert sound.is_keyframe and float(sound.time_base) == 1 / 48000
        # A PLI from the receiving side reaches the sending side's RTCRtpSender.
        asked = asyncio.Event()
        forwarding.on_keyframe_request(video_sender, asked.set)
        (receiver,) = [t.receiver for t in receiving.getTransceivers() if t.kind == "video"]
        assert forwarding.ask_for_keyframe(receiver)
        await asked.wait()
    finally:
        await sending.close()
        await receiving.close()
    # Closing ends the track, as it does when aiortc decodes.
    with pytest.raises(MediaStreamError):
        while True:
            await arrived["video"].recv()


# How step 6 uses it: a slot starts a member's video at a keyframe it asks them for, and passes a
# viewer's own request on to that member; everyone's packets are on one clock.


class Source:
    """A member's track as aiortc gives it with forwarding on: packets from a queue."""

    kind = "video"

    def __init__(self):
        self.queue = asyncio.Queue()

    async def recv(self):
        return await self.queue.get()

    def stop(self):
        pass


class Member(Source):
    """A member's `Forwarded` track, as a slot sees it: subscribers, and requests counted."""

    def __init__(self):
        super().__init__()
        self.subscribers, self.asked = [], 0

    def subscribe(self, push):
        self.subscribers.append(push)

    def unsubscribe(self, push):
        self.subscribers.remove(push)

    def request_keyframe(self):
        self.asked += 1


def vp8(keyframe, pts=0):
    packet = av.Packet(bytes([0x10 if keyframe else 0x11]) + bytes(20))
    packet.is_keyframe = keyframe
    packet.pts, packet.time_base = pts, Fraction(1, 90000)
    return packet


def test_a_slot_starts_at_a_keyframe_and_passes_a_viewers_request_on():
    run_alone(slot_scenario())


async def slot_scenario():
    viewer_sender = type("Sender", (), {})()
    slot = Slot("video", "1", viewer_sender)
    ann = Member()
    slot.show(ann, member="Ann")
    assert ann.asked == 1 and ann.subscribers == [slot.push]
    for keyframe in (False, False, True, False):
        slot.push(vp8(keyframe))
    assert [(await slot.recv()).is_keyframe for _ in range(2)] == [True, False]
    viewer_sender._send_keyframe()  # what aiortc calls on the viewer's PLI
    assert ann.asked == 2
    slot.show(None)
    assert ann.subscribers == []
    slot.stop()


def test_members_media_is_retimed_onto_the_server_clock_keeping_its_pace():
    """A slot that switches from Ann to Bob must keep its timestamps rising, whatever clocks
    their browsers started from."""
    run_alone(retime_two_members())


async def retime_two_members():
    clock = Fraction(1, 90000)
    for origin in (0, 3_000_000_000):  # two browsers' RTP clocks, far apart
        source, got = Source(), asyncio.Queue()
        track = Forwarded(source, receiver=None)
        track.subscribe(got.put_nowait)
        track.start()
        for pts in (origin, origin + 6000):  # two frames, 1/15 s apart
            source.queue.put_nowait(vp8(True, pts))
        first, second = await got.get(), await got.get()
        now = (time.monotonic() - START) / clock
        assert abs(first.pts - now) < 0.5 / clock and second.pts - first.pts == 6000
        track.stop()


def test_a_slot_still_waiting_for_its_keyframe_asks_again():
    """A lost request, or a lost keyframe, must not leave a tile blank for good."""
    slot = Slot("video", "1", type("Sender", (), {})())
    ann = Member()
    slot.show(ann, member="Ann")
    slot.push(vp8(False))
    assert ann.asked == 1  # asked a moment ago: wait for the answer
    slot.asked_at -= KEYFRAME_RETRY
    slot.push(vp8(False))
    assert ann.asked == 2
