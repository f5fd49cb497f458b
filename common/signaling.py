"""The signaling server: rooms, members and the relay of offers, answers and ICE candidates.

It implements the contract of DESIGN.md section 4. Browsers never talk to each other through it
beyond `signal`; once their peer connection is up, the data goes peer to peer.

`Rooms` holds the state and the rules; `attach` wires them to socket.io events. Every handler
validates its input and answers with an acknowledgement; on error nothing changes and nothing is
relayed.
"""

import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from flask import request

log = logging.getLogger("signaling")

ROOM_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_MAX = 32
SIGNAL_MAX_BYTES = 64 * 1024
DESCRIPTION_TYPES = {"offer", "answer", "pranswer", "rollback"}


class SignalingError(Exception):
    """A request the contract refuses; `code` is one of the documented error codes."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    def ack(self):
        return {"ok": False, "error": {"code": self.code, "message": self.message}}


@dataclass
class Member:
    id: str
    name: str
    room: str
    sid: str
    bucket: "TokenBucket"


@dataclass
class TokenBucket:
    """Allows `burst` signals at once, then `rate` a second."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        self.tokens = self.burst

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def clean_room(value):
    if not isinstance(value, str) or not ROOM_PATTERN.fullmatch(value):
        raise SignalingError("invalid", "room must be 1-64 characters of A-Z a-z 0-9 _ -")
    return value


def clean_name(value):
    name = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        raise SignalingError("invalid", f"name must be 1-{NAME_MAX} printable characters")
    return name


def clean_signal_data(data):
    """Checks that `data` is one session description or one ICE candidate."""
    if not isinstance(data, dict) or len(data) != 1:
        raise SignalingError("invalid", "data must be {description} or {candidate}")
    if "description" in data:
        description = data["description"]
        if (
            not isinstance(description, dict)
            or not isinstance(description.get("type"), str)
            or description["type"] not in DESCRIPTION_TYPES
            or not isinstance(description.get("sdp", ""), str)
        ):
            raise SignalingError("invalid", "description needs a type and an sdp string")
    elif "candidate" in data:
        candidate = data["candidate"]
        if not isinstance(candidate, dict) or not isinstance(candidate.get("candidate"), str):
            raise SignalingError("invalid", "candidate needs a candidate string")
    else:
        raise SignalingError("invalid", "data must be {description} or {candidate}")
    if len(json.dumps(data, separators=(",", ":")).encode()) > SIGNAL_MAX_BYTES:
        raise SignalingError("too-large", f"signal data is over {SIGNAL_MAX_BYTES} bytes")
    return data


def payload(args):
    """The single JSON object an event carries, or an `invalid` error."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise SignalingError("invalid", "the payload must be one JSON object")
    return args[0]


class Rooms:
    """Who is in which room. Thread-safe: socket.io handlers run on many threads."""

    def __init__(self, capacity, max_rooms=1000, signal_rate=50.0, signal_burst=400.0):
        self.capacity = capacity
        self.max_rooms = max_rooms
        self.signal_rate = signal_rate
        self.signal_burst = signal_burst
        self.rooms = {}  # room name -> {member id -> Member}
        self.by_sid = {}  # socket.io session id -> Member
        self.lock = threading.Lock()

    def join(self, sid, room, name):
        with self.lock:
            if sid in self.by_sid:
                raise SignalingError("already-joined", "this connection is already in a room")
            members = self.rooms.get(room, {})
            if not members and len(self.rooms) >= self.max_rooms:
                raise SignalingError("room-full", "the server has no room for another room")
            if len(members) >= self.capacity:
                raise SignalingError("room-full", f"room {room} is full ({self.capacity} members)")
            if any(m.name.casefold() == name.casefold() for m in members.values()):
                raise SignalingError("name-taken", f"the name {name} is taken in this room")
            peers = list(members.values())
            member = Member(
                secrets.token_urlsafe(9),
                name,
                room,
                sid,
                TokenBucket(self.signal_rate, self.signal_burst),
            )
            self.rooms.setdefault(room, {})[member.id] = member
            self.by_sid[sid] = member
            return member, peers

    def leave(self, sid):
        """Removes the member of this connection, if any: (member, the others still in its room),
        or (None, [])."""
        with self.lock:
            member = self.by_sid.pop(sid, None)
            if member is None:
                return None, []
            members = self.rooms[member.room]
            del members[member.id]
            if not members:
                del self.rooms[member.room]
            return member, list(members.values())

    # Lookups take no lock: one dict read is atomic, and the lock is for changes. On every
    # signal, taking it made the relaying threads queue behind whichever one held it.
    def member(self, sid):
        member = self.by_sid.get(sid)
        if member is None:
            raise SignalingError("not-joined", "join a room first")
        return member

    def peer(self, sender, peer_id):
        target = self.rooms.get(sender.room, {}).get(peer_id)
        if target is None or target is sender:
            raise SignalingError("unknown-peer", "no such peer in your room")
        return target

    def counts(self):
        with self.lock:
            return {"rooms": len(self.rooms), "members": len(self.by_sid)}

    def is_local(self, member):
        """Whether this process holds the member's connection: always, in one process."""
        return True


def attach(socketio, rooms, ice_servers, on_depart=None):
    """Registers the contract's events on `socketio`. `ice_servers(member)` gives the ICE list;
    `on_depart(member)`, when given, runs after a member has left or disconnected. Returns a
    function that makes every member of this process leave."""

    # Joining and leaving are atomic with their announcements: whoever joins later is listed in no
    # peer-joined and sees everyone earlier in its ack; whoever was there earlier gets exactly one
    # peer-joined for each later member. Announcements go to the members that join() and leave()
    # returned, one by one, so this holds across processes too (common/shared_rooms.py).
    membership = threading.Lock()

    def send(event, message, member):
        # Across processes an emit goes through Redis, unless the connection is this process's.
        socketio.emit(event, message, to=member.sid, ignore_queue=rooms.is_local(member))

    def announce(event, message, members):
        for member in members:
            send(event, message, member)

    def refuse(event, err):
        log.info("%s refused for %s: %s (%s)", event, request.sid, err.code, err.message)
        return err.ack()

    @socketio.on("join")
    def on_join(*args):
        try:
            data = payload(args)
            room, name = clean_room(data.get("room")), clean_name(data.get("name"))
            with membership:
                member, peers = rooms.join(request.sid, room, name)
                announce("peer-joined", {"id": member.id, "name": member.name}, peers)
        except SignalingError as err:
            return refuse("join", err)
        log.info("%s (%s) joined %s", member.name, member.id, room)
        return {
            "ok": True,
            "id": member.id,
            "peers": [{"id": p.id, "name": p.name} for p in peers],
            "iceServers": ice_servers(member),
        }

    @socketio.on("signal")
    def on_signal(*args):
        try:
            sender = rooms.member(request.sid)
            data = payload(args)
            if not isinstance(data.get("to"), str):
                raise SignalingError("invalid", "signal needs a 'to' peer id")
            signal = clean_signal_data(data.get("data"))
            target = rooms.peer(sender, data["to"])
            if not sender.bucket.take():
                raise SignalingError("rate-limited", "too many signals; slow down")
        except SignalingError as err:
            return refuse("signal", err)
        send("signal", {"from": sender.id, "data": signal}, target)
        return {"ok": True}

    @socketio.on("leave")
    def on_leave(*args):
        depart(request.sid)
        return {"ok": True}

    @socketio.on("disconnect")
    def on_disconnect(*args):
        depart(request.sid)

    def depart(sid):
        with membership:
            member, others = rooms.leave(sid)
            if member is None:
                return
            announce("peer-left", {"id": member.id}, others)
        log.info("%s (%s) left %s", member.name, member.id, member.room)
        if on_depart:
            on_depart(member)

    @socketio.on_error_default
    def on_error(err):
        log.exception("unexpected error in a socket.io handler: %s", err)

    def depart_everyone():
        """This process is stopping: each of its members leaves, and the others hear of it."""
        for sid in list(rooms.by_sid):
            depart(sid)

    return depart_everyone
