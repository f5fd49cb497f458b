"""The media side of the broadcast: one publisher per stream, any number of viewers, and the
server in the middle passing the publisher's packets on to every viewer without decoding them.

It is step 6's server peer cut down to one sender: the publisher's tracks become step 6's
`Forwarded` (their VP8 and Opus packets as the publisher's browser encoded them), and each
viewer's receive-only transceivers become step 6's `Slot`s. A viewer who comes before the
broadcast starts keeps empty slots; when the publisher comes, every slot starts showing them, at
a keyframe the server asks the publisher for (step 6's `Slot.show`).

Both kinds of session may open a data channel (our pages do; other WHIP and WHEP clients need
not). On it the server tells a viewer `{"type": "broadcast", "live": true|false}` and the
publisher `{"type": "viewers", "count": N}` whenever that changes.

As in step 6, everything here runs on one event loop in a thread of its own; server.py hands it
coroutines from Flask's threads through `Broadcasts.run`.
"""

import asyncio
import json
import logging
import secrets
import threading
from dataclasses import dataclass, field

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from common.signaling import SignalingError
from step6_server_peer import forwarding
from step6_server_peer.media import Forwarded, Slot
from step6_server_peer.server_peer import forwarded_codecs_only

log = logging.getLogger("broadcast")

SUPPORTED = "This server forwards VP8 video and Opus audio, as it receives them"


class Refused(Exception):
    """An offer or a request the server turns down: `status` is the HTTP status to answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Session:
    """One WHIP or WHEP client's connection to the server."""

    id: str  # the unguessable last part of its URL
    stream: str
    pc: RTCPeerConnection
    channel: object = None  # RTCDataChannel, if the client opened one
    published: dict = field(default_factory=dict)  # kind -> Forwarded (the publisher's)
    slots: list = field(default_factory=list)  # Slot (a viewer's)

    def send(self, message):
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(message))


@dataclass
class Broadcast:
    """One stream: its publisher while it is live, and whoever watches it."""

    publisher: Session | None = None
    viewers: dict = field(default_factory=dict)  # session id -> Session
    starting: bool = False  # a publisher's offer is being answered

    def live(self):
        return self.publisher is not None


class Broadcasts:
    def __init__(self, ice_servers=()):
        self.ice_servers = list(ice_servers)  # aiortc RTCIceServer entries; none offline
        self.streams = {}  # stream name -> Broadcast
        self.tasks = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aiortc", daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout=10):
        """Runs `coroutine` on the event loop and waits for its result (from a Flask thread)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise Refused(503, "the server did not answer in time; try again") from None

    # On the event loop ------------------------------------------------------------------------

    async def publish(self, stream, offer):
        """WHIP: the publisher's offer in; (session id, answer) out."""
        broadcast = self.streams.setdefault(stream, Broadcast())
        if broadcast.live() or broadcast.starting:
            raise Refused(409, f"stream {stream} is live already: one publisher at a time")
        broadcast.starting = True  # a second offer meanwhile gets 409 too
        try:
            session, answer = await self.answer(stream, offer, self.receive_published)
        except BaseException:
            broadcast.starting = False
            self.forget_if_unused(stream)
            raise
        broadcast.starting = False
        broadcast.publisher = session
        for track in session.published.values():
            track.start()  # read from now on, watched or not
        for viewer in broadcast.viewers.values():
            self.show(viewer, session)
        log.info("stream %s is live (%s)", stream, ", ".join(session.published) or "nothing")
        return session.id, answer

    async def watch(self, stream, offer):
        """WHEP: a viewer's receive-only offer in; (session id, answer) out."""
        session, answer = await self.answer(stream, offer, self.open_slots)
        broadcast = self.streams.setdefault(stream, Broadcast())
        broadcast.viewers[session.id] = session
        if broadcast.live():
            self.show(session, broadcast.publisher)
        self.tell_viewer_count(broadcast)
        log.info("a viewer of %s came (%d watching)", stream, len(broadcast.viewers))
        return session.id, answer

    async def end(self, stream, session_id):
        """DELETE: ends a session, the publisher's (the broadcast stops) or a viewer's."""
        broadcast = self.streams.get(stream)
        if broadcast is None:
            return False
        if broadcast.publisher is not None and broadcast.publisher.id == session_id:
            session, broadcast.publisher = broadcast.publisher, None
            for viewer in broadcast.viewers.values():
                for slot in viewer.slots:
                    slot.show(None)
                viewer.send({"type": "broadcast", "live": False})
            log.info("stream %s ended", stream)
        elif session_id in broadcast.viewers:
            session = broadcast.viewers.pop(session_id)
            self.tell_viewer_count(broadcast)
        else:
            return False
        self.forget_if_unused(stream)
        await self.shut(session)
        return True

    def forget_if_unused(self, stream):
        broadcast = self.streams.get(stream)
        if broadcast and not (broadcast.live() or broadcast.viewers or broadcast.starting):
            del self.streams[stream]

    async def viewer_count(self, stream, session_id):
        broadcast = self.streams.get(stream)
        if broadcast is None or broadcast.publisher is None or broadcast.publisher.id != session_id:
            return None
        return len(broadcast.viewers)

    async def count(self):
        others = asyncio.all_tasks() - {asyncio.current_task()}
        sessions = sum(len(b.viewers) + (b.publisher is not None) for b in self.streams.values())
        return {"peerConnections": sessions, "tasks": len(others)}

    async def answer(self, stream, offer, prepare):
        """Makes a session for `offer` and answers it; `prepare(session)` runs between the
        offer and the answer (the publisher's tracks, or the viewer's slots)."""
        config = RTCConfiguration(
            iceServers=self.ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
        )
        session = Session(secrets.token_urlsafe(24), stream, RTCPeerConnection(config))
        pc = session.pc
        if prepare == self.receive_published:  # a viewer's tracks, if it sends any, are ignored
            pc.on("track", lambda track: self.on_track(session, track))
        pc.on("datachannel", lambda channel: self.on_channel(session, channel))
        pc.on("connectionstatechange", lambda: self.on_state(session))
        try:
            sdp = answering_as_dtls_server(forwarded_codecs_only(offer))
        except SignalingError as err:
            await pc.close()
            missing = "VP8 for its video" if "VP8" in err.message else "Opus for its audio"
            raise Refused(406, f"{SUPPORTED}; the offer has no {missing}.") from None
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            prepare(session)
            await pc.setLocalDescription(await pc.createAnswer())
        except Refused:
            await pc.close()
            raise
        except Exception as err:
            await pc.close()
            raise Refused(400, f"the offer could not be used: {err}") from None
        if "a=candidate:" not in pc.localDescription.sdp:
            await pc.close()
            raise Refused(503, "the server found no network address for WebRTC")
        return session, pc.localDescription.sdp

    def receive_published(self, session):
        """The publisher's tracks (on_track made them `Forwarded`): one of each kind at most."""
        for transceiver in session.pc.getTransceivers():
            if transceiver.receiver.track is None:
                raise Refused(400, "a WHIP offer sends: its media must be sendonly")
        if len(session.pc.getTransceivers()) != len(session.published):
            raise Refused(400, "publish at most one video and one audio track")

    def on_track(self, session, track):
        receiver = next(
            (t.receiver for t in session.pc.getTransceivers() if t.receiver.track is track), None
        )
        if receiver is None or track.kind in session.published:
            return  # a second track of a kind: publish() refuses the offer
        forwarding.hand_over_encoded(receiver)  # its packets as they came: nothing decoded
        session.published[track.kind] = Forwarded(track, receiver)

    def open_slots(self, session):
        """A viewer's transceivers become slots, answered send-only: one video, one audio."""
        for transceiver in session.pc.getTransceivers():
            if any(slot.kind == transceiver.kind for slot in session.slots):
                raise Refused(400, "a WHEP offer receives one video and one audio at most")
            slot = Slot(transceiver.kind, transceiver.mid, transceiver.sender)
            transceiver.sender.replaceTrack(slot)
            transceiver.direction = "sendonly"
            session.slots.append(slot)

    def show(self, viewer, publisher):
        for slot in viewer.slots:
            track = publisher.published.get(slot.kind)
            if track is not None:
                slot.show(track)
        viewer.send({"type": "broadcast", "live": True})

    def on_channel(self, session, channel):
        if session.channel is not None:
            channel.close()
            return
        session.channel = channel
        broadcast = self.streams.get(session.stream)
        if session.slots:
            session.send({"type": "broadcast", "live": bool(broadcast and broadcast.live())})
        elif broadcast is not None:
            session.send({"type": "viewers", "count": len(broadcast.viewers)})

    def tell_viewer_count(self, broadcast):
        if broadcast.publisher is not None:
            broadcast.publisher.send({"type": "viewers", "count": len(broadcast.viewers)})

    def on_state(self, session):
        if session.pc.connectionState in ("failed", "closed"):
            self.spawn(self.end(session.stream, session.id))  # gone without a DELETE

    def spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)  # held until done: a task nobody holds may be garbage-collected
        task.add_done_callback(self.tasks.discard)

    async def shut(self, session):
        for slot in session.slots:
            slot.stop()
        for track in session.published.values():
            track.stop()
        await session.pc.close()


def answering_as_dtls_server(sdp):
    """The offer as if it asked us to be the DTLS server (`a=setup:active`), so that aiortc
    answers `a=setup:passive`. A client offering `actpass` accepts either role; aiortc would pick
    the client's, and GStreamer's WHIP client (an RSA certificate) and aiortc as DTLS client
    (ECDSA cipher suites only) find no cipher in common. As the server, aiortc's ECDSA
    certificate is the one in use, and every client here accepts it."""
    return sdp.replace("a=setup:actpass", "a=setup:active")
