"""The server as a WebRTC peer: one aiortc RTCPeerConnection per member, and the fan-out.

Each browser holds exactly one connection, to the server. On it:

- a data channel, `chat`: the browser sends `{"type": "chat", "text": ...}`; the server stamps the
  sender's name (from the signaling state, never from the message) and sends
  `{"type": "chat", "from": {"id", "name"}, "text"}` to everyone else in the room;
- the browser's camera and microphone (send-only), forwarded as the browser encoded them:
  `media.Forwarded` passes their packets to every slot that shows them; nothing is decoded or
  encoded on the server;
- `slots`: receive-only video and audio transceivers, one pair per other member the room can
  hold. The browser adds them to its one and only offer, so no renegotiation is ever needed: when
  someone joins, the server puts their tracks into a free slot of everyone else; when they leave,
  it empties that slot. `{"type": "slots", "slots": [{"mid", "kind", "id", "name"}]}` on the data
  channel tells the browser which slot shows whom.

aiortc is asyncio; Flask-SocketIO runs in threads. `ServerPeer` owns one event loop in a thread of
its own, and the socket.io handlers hand it coroutines with `asyncio.run_coroutine_threadsafe`.
Everything below `ServerPeer`'s public methods runs on that loop, so it needs no locks.
"""

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from common.signaling import SignalingError, TokenBucket
from step6_server_peer import forwarding
from step6_server_peer.media import Forwarded, Slot

log = logging.getLogger("server-peer")

# What the server forwards, whatever a browser prefers: its keyframe detection and picture size
# (forwarding.py), step 10's WebM and step 15's clear bytes all read VP8, and every browser here
# sends VP8 and Opus. (rtx: VP8's retransmissions.)
FORWARDED_CODECS = {"video": {"VP8", "RTX"}, "audio": {"OPUS"}}

OFFER_TIMEOUT = 10  # seconds to answer an offer
CLOSE_TIMEOUT = 10
MESSAGE_MAX = 2000  # characters in one chat message
CHAT_RATE, CHAT_BURST = 10.0, 30.0  # messages a second; each one is sent n-1 times


@dataclass
class Guest:
    """One member's connection to the server peer."""

    member: object  # common.signaling.Member: id, name, room, sid
    pc: RTCPeerConnection
    channel: object = None  # RTCDataChannel, once the browser's `chat` channel arrives
    published: dict = field(default_factory=dict)  # kind -> Forwarded: what this member sends
    slots: list = field(default_factory=list)  # Slot: what this member receives
    chat_bucket: TokenBucket = field(default_factory=lambda: TokenBucket(CHAT_RATE, CHAT_BURST))
    state: dict | None = None  # {mic, camera}, as the page last said

    def sender(self):
        return {"id": self.member.id, "name": self.member.name}

    def send(self, message):
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(message))

    def send_slots(self):
        filled = [s for s in self.slots if s.member is not None]
        self.send(
            {
                "type": "slots",
                "slots": [
                    {"mid": s.mid, "kind": s.kind, "id": s.member.id, "name": s.member.name}
                    for s in filled
                ],
            }
        )


class ServerPeer:
    def __init__(self, still_joined):
        """`still_joined(member)` tells whether a member is still in its room: the signaling
        state is the source of truth."""
        self.still_joined = still_joined
        self.ice_servers = []  # none offline; RTCIceServer entries when STUN_URLS is set
        self.slot_count = 0  # set by the app: the room capacity minus one
        self.rooms = {}  # room name -> {member id -> Guest}
        self.closing = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aiortc", daemon=True)
        self.thread.start()

    def ice_servers_from(self, servers):
        """Takes the browsers' iceServers list (common/ice.py) for the server's own side."""
        self.ice_servers = [RTCIceServer(urls=server["urls"]) for server in servers]

    # Called from socket.io threads ------------------------------------------------------------

    def run(self, coroutine, timeout):
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise SignalingError("failed", "the server peer did not answer in time") from None

    def answer(self, member, offer):
        """The SDP answer (with the server's ICE candidates in it) to a member's offer."""
        return self.run(self.accept(member, offer), OFFER_TIMEOUT)

    def depart(self, member):
        """Closes a member's connection, if any, and empties the slots that showed them."""
        self.run(self.close(member.id, member.room), CLOSE_TIMEOUT)

    def stats(self):
        return self.run(self.count(), CLOSE_TIMEOUT)

    # On the event loop ------------------------------------------------------------------------

    async def count(self):
        others = asyncio.all_tasks() - {asyncio.current_task()}
        guests = sum(len(room) for room in self.rooms.values())
        return {"peerConnections": guests, "tasks": len(others)}

    async def accept(self, member, offer):
        if member.id in self.rooms.get(member.room, {}):
            raise SignalingError("already-connected", "you already have a connection to the server")
        # max-bundle: every m-line on one transport. With aiortc's default ("balanced"), a second
        # video m-line is left on a transport that BUNDLE then closes (aiortc issue #1414).
        config = RTCConfiguration(
            iceServers=self.ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
        )
        pc = RTCPeerConnection(config)
        guest = Guest(member, pc)
        try:
            answer = await self.negotiate(guest, offer)
        except BaseException:
            await self.shut(guest)
            raise
        room = self.rooms.setdefault(member.room, {})
        # The member may have left while we negotiated; then nobody else would close this.
        if not self.still_joined(member) or member.id in room:
            await self.shut(guest)
            if not room:
                del self.rooms[member.room]
            raise SignalingError("not-joined", "join a room first")
        room[member.id] = guest
        self.welcome(guest, room)
        log.info("answered the offer of %s (%s)", member.name, member.id)
        return answer

    def welcome(self, guest, room):
        """`guest` is now in `room` (a dict of Guests, them included): their media reach the
        others' slots, and the others' reach theirs."""
        for track in guest.published.values():
            track.start()  # read from now on, watched or not, or its packets pile up in memory
        for other in room.values():
            if other is not guest:
                self.show(other, guest)
                self.show(guest, other)
                other.send_slots()

    async def negotiate(self, guest, offer):
        pc = guest.pc
        pc.on("track", lambda track: self.on_track(guest, track))
        pc.on("datachannel", lambda channel: self.on_channel(guest, channel))
        pc.on("connectionstatechange", lambda: self.on_state(guest))
        sdp = forwarded_codecs_only(offer["sdp"])
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        except Exception as err:
            raise SignalingError("invalid", f"the offer could not be used: {err}") from None
        if pc.sctp is None:
            raise SignalingError("invalid", "the offer needs a data channel for the chat")
        if len(guest.published) != sum(1 for t in pc.getTransceivers() if t.receiver.track):
            raise SignalingError("invalid", "the offer may send one audio and one video track")
        self.open_slots(guest)
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription
        if "a=candidate:" not in answer.sdp:
            raise SignalingError(
                "no-address",
                "the server found no network address for WebRTC (aiortc does not use 127.0.0.1)",
            )
        return {"type": answer.type, "sdp": answer.sdp}

    def on_track(self, guest, track):
        if track.kind in guest.published:
            return  # a second track of one kind: refused by negotiate()
        transceivers = guest.pc.getTransceivers()
        receiver = next((t.receiver for t in transceivers if t.receiver.track is track), None)
        if receiver is None:
            log.warning("%s sent a %s track on no transceiver", guest.member.name, track.kind)
            return
        forwarding.hand_over_encoded(receiver)  # its packets as they came: nothing decoded
        guest.published[track.kind] = Forwarded(track, receiver)

    def open_slots(self, guest):
        """The browser's receive-only transceivers become slots: up to `slot_count` of each kind
        are answered send-only, each with a Slot track of its own; any extra ones stay inactive."""
        per_kind = {"audio": 0, "video": 0}
        for transceiver in guest.pc.getTransceivers():
            kind = transceiver.kind
            if transceiver.receiver.track or per_kind[kind] >= self.slot_count:
                continue
            per_kind[kind] += 1
            slot = Slot(kind, transceiver.mid, transceiver.sender)
            transceiver.sender.replaceTrack(slot)
            transceiver.direction = "sendonly"
            guest.slots.append(slot)

    def show(self, viewer, sender):
        """Puts `sender`'s tracks into free slots of `viewer`."""
        for kind, track in sender.published.items():
            free = next((s for s in viewer.slots if s.kind == kind and s.member is None), None)
            if free is not None:
                free.show(track, sender.member)

    def on_channel(self, guest, channel):
        if channel.label != "chat" or guest.channel is not None:
            channel.close()
            return
        guest.channel = channel
        channel.on("message", lambda message: self.on_message(guest, message))
        # The page's channel opens before the server has it: this says the server has it now,
        # so the page hears every message sent from here on.
        guest.send({"type": "ready"})
        guest.send_slots()
        for other in self.rooms.get(guest.member.room, {}).values():
            if other is not guest and other.state is not None:
                guest.send({"type": "state", "from": other.sender(), **other.state})

    def on_message(self, guest, message):
        self.on_data(guest, parsed(message))

    def on_data(self, guest, data):
        """A message from `guest`'s page, parsed (steps 10 and 13 add their own types)."""
        kind = data.get("type")
        text = data.get("text") if kind == "chat" else None
        if kind == "state":
            guest.state = {"mic": data.get("mic") is True, "camera": data.get("camera") is True}
            out = {"type": "state", **guest.state}
        elif isinstance(text, str) and text.strip() and len(text) <= MESSAGE_MAX:
            out = {"type": "chat", "text": text}
        else:
            error = (
                f"send {{type: 'chat', text}} with 1-{MESSAGE_MAX} characters of text, "
                "or {type: 'state', mic, camera}"
            )
            guest.send({"type": "error", "message": error})
            return
        if not guest.chat_bucket.take():
            guest.send({"type": "error", "message": "too many messages; slow down"})
            return
        # The name comes from the signaling state, never from the message.
        out["from"] = guest.sender()
        for other in self.rooms.get(guest.member.room, {}).values():
            if other is not guest:
                other.send(out)

    def on_state(self, guest):
        state = guest.pc.connectionState
        log.info("%s: connection to the server peer %s", guest.member.name, state)
        if state == "failed":
            self.spawn(self.close(guest.member.id, guest.member.room))

    def spawn(self, coroutine):
        """Runs `coroutine` as a task held until it ends: a task nobody holds may be
        garbage-collected midway."""
        task = asyncio.ensure_future(coroutine)
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def close(self, member_id, room_name):
        room = self.rooms.get(room_name, {})
        guest = room.pop(member_id, None)
        if guest is None:
            return
        if not room:
            del self.rooms[room_name]
        self.farewell(guest, room)
        await self.shut(guest)
        log.info("%s (%s) closed its server peer connection", guest.member.name, member_id)

    def farewell(self, guest, room):
        """`guest` has left `room` (the Guests still in it): the slots that showed them empty."""
        for other in room.values():
            for slot in other.slots:
                if slot.member is guest.member:
                    slot.show(None)
            other.send_slots()

    async def shut(self, guest):
        for slot in guest.slots:
            slot.stop()
        for track in guest.published.values():
            track.stop()
        await guest.pc.close()


def parsed(message):
    """A message from a page as a dict ({} for anything else: on_data answers it with an error)."""
    try:
        data = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def forwarded_codecs_only(sdp):
    """The offer with only VP8 (and its rtx) in each video section and only Opus in each audio
    section: aiortc answers with the offerer's favourite codec it knows (H.264 if a browser puts
    it first), so the others go before aiortc reads the offer. The answer then names VP8 and
    Opus only, and the browser sends them. A section with neither is refused."""
    sections = sdp.split("\r\nm=")
    kept = [sections[0]]
    for section in sections[1:]:
        lines = section.split("\r\n")
        kind, port, proto, *payloads = lines[0].split(" ")
        if kind not in FORWARDED_CODECS:
            kept.append(section)
            continue
        names, repairs = {}, {}  # payload type -> codec name; rtx payload type -> its codec's
        for line in lines:
            if line.startswith("a=rtpmap:"):
                payload, _, rest = line[len("a=rtpmap:") :].partition(" ")
                names[payload] = rest.split("/")[0].upper()
            elif line.startswith("a=fmtp:") and " apt=" in line:
                repairs[payload_of(line)] = line.split(" apt=")[1].split(";")[0]
        keep = [p for p in payloads if names.get(p) in FORWARDED_CODECS[kind] - {"RTX"}]
        keep += [p for p in payloads if names.get(p) == "RTX" and repairs.get(p) in keep]
        if not keep:
            wanted = "VP8 video" if kind == "video" else "Opus audio"
            raise SignalingError(
                "invalid", f"this server forwards {wanted} only, and the offer has none"
            )
        dropped = set(payloads) - set(keep)
        lines = [" ".join([kind, port, proto, *keep])] + [
            line for line in lines[1:] if payload_of(line) not in dropped
        ]
        kept.append("\r\n".join(lines))
    return "\r\nm=".join(kept)


def payload_of(line):
    """The payload type an a=rtpmap, a=fmtp or a=rtcp-fb line is about, or None."""
    for prefix in ("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"):
        if line.startswith(prefix):
            return line[len(prefix) :].split(" ")[0]
    return None
