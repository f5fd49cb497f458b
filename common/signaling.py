"""The rules of the signaling server: what a valid payload is, who is in which room, and the
limits. The relay itself, the three events join / signal / leave, is step 2's lesson and lives in
step2_two_users/server.py; this module is what it leans on (docs/signaling-contract.md).

`Rooms` holds the state and refuses what the contract refuses; the `clean_*` functions check
payloads. Every refusal is a `SignalingError` with one of the contract's codes; on a refusal
nothing changes.
"""

import json
import logging
import queue
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

ROOM_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_MAX = 32
SIGNAL_MAX_BYTES = 64 * 1024
DESCRIPTION_TYPES = {"offer", "answer", "pranswer", "rollback"}
# Call control (step 11): what one page tells another about a call. The server checks the shape
# and relays it like an offer; it keeps no call state.
CALL_TYPES = {"invite", "accept", "decline", "busy", "cancel", "hang-up", "in-call", "call-ended"}
CALL_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
DATA_KINDS = "data must be {description}, {candidate} or {call}"


log = logging.getLogger("signaling")


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


class Announcements:
    """Joins' and leaves' news (`peer-joined`, `peer-left`), sent in the order the membership
    changed, but outside the lock that orders those changes: with REDIS_URL an emit is a round
    trip to Redis, and no other join or leave should wait for it.

    Under the membership lock a handler `queue()`s its news; after the lock, `send()` delivers
    everything queued, in order, and returns once the news of this handler is out (a newcomer's
    ack must not overtake their `peer-joined`: its first signal would reach pages that do not
    know them yet). Only one thread delivers at a time; a handler that finds another delivering
    leaves its news to it and waits for them."""

    def __init__(self, deliver):
        self.deliver = deliver  # deliver(member, event, message)
        self.queued = queue.SimpleQueue()
        self.sending = threading.Lock()

    def queue(self, news):
        """`news` is [(member, event, message)]; returns what send() waits for."""
        done = threading.Event()
        for item in news:
            self.queued.put(item)
        self.queued.put(done)
        return done

    def send(self, done):
        while not done.is_set():
            if not self.sending.acquire(blocking=False):
                done.wait(0.01)  # another handler is delivering, ours too
                continue
            try:
                self.deliver_queued()
            finally:
                self.sending.release()

    def deliver_queued(self):
        while True:
            try:
                item = self.queued.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, threading.Event):
                item.set()  # everything queued before it is out
                continue
            try:
                self.deliver(*item)
            except Exception:  # one lost emit must not hold up the news after it
                log.exception("could not deliver %s", item[1])


def clean_room(value):
    if not isinstance(value, str) or not ROOM_PATTERN.fullmatch(value):
        raise SignalingError("invalid", "room must be 1-64 characters of A-Z a-z 0-9 _ -")
    return value


def clean_name(value):
    name = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        raise SignalingError("invalid", f"name must be 1-{NAME_MAX} printable characters")
    return name


def clean_signal(data):
    """(to, data) from a `signal` payload, both checked."""
    if not isinstance(data.get("to"), str):
        raise SignalingError("invalid", "signal needs a 'to' peer id")
    return data["to"], clean_signal_data(data.get("data"))


def take_signal(member):
    """Counts one signal against the member's rate limit, or refuses it."""
    if not member.bucket.take():
        raise SignalingError("rate-limited", "too many signals; slow down")


def clean_signal_data(data):
    """Checks that `data` is one session description, one ICE candidate or one call message."""
    if not isinstance(data, dict) or len(data) != 1:
        raise SignalingError("invalid", DATA_KINDS)
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
    elif "call" in data:
        clean_call(data["call"])
    else:
        raise SignalingError("invalid", DATA_KINDS)
    if len(json.dumps(data, separators=(",", ":")).encode()) > SIGNAL_MAX_BYTES:
        raise SignalingError("too-large", f"signal data is over {SIGNAL_MAX_BYTES} bytes")
    return data


def clean_call(call):
    """Checks a call message: exactly {type, id}, a known type and an id like a room name."""
    if (
        not isinstance(call, dict)
        or set(call) != {"type", "id"}
        or not isinstance(call["type"], str)
        or call["type"] not in CALL_TYPES
        or not isinstance(call["id"], str)
        or not CALL_ID_PATTERN.fullmatch(call["id"])
    ):
        types = ", ".join(sorted(CALL_TYPES))
        raise SignalingError(
            "invalid", f"call needs a type ({types}) and an id ([A-Za-z0-9_-], 1-64)"
        )


def payload(args):
    """The single JSON object an event carries, or an `invalid` error."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise SignalingError("invalid", "the payload must be one JSON object")
    return args[0]


class Rooms:
    """Who is in which room. Thread-safe: socket.io handlers run on many threads."""

    def __init__(self, capacity, max_rooms=1000, signal_rate=50.0, signal_burst=400.0, listed=None):
        self.capacity = capacity
        self.max_rooms = max_rooms
        self.signal_rate = signal_rate
        self.signal_burst = signal_burst
        # Which rooms a lobby lists (step 12): a function of the room's name, or None for none.
        self.listed = listed
        self.version = 0  # goes up with every change to a listed room
        self.rooms = {}  # room name -> {member id -> Member}
        self.by_sid = {}  # socket.io session id -> Member
        self.lock = threading.Lock()

    def join(self, sid, room, name):
        with self.lock:
            if sid in self.by_sid:
                raise SignalingError("already-joined", "this connection is already in a room")
            members = self.rooms.get(room, {})
            if not members and len(self.rooms) >= self.max_rooms:
                raise SignalingError(
                    "room-full", "the server holds as many rooms as it can; try again later"
                )
            if len(members) >= self.capacity:
                raise SignalingError("room-full", f"the room is full ({self.capacity} members)")
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
            self.count_change(room)
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
            self.count_change(member.room)
            return member, list(members.values())

    def count_change(self, room):
        if self.listed and self.listed(room):
            self.version += 1

    def listing(self, limit):
        """The listed rooms and how many are in each, busiest first (then by name), at most
        `limit` of them: {version, total, rooms: [{room, members}, ...]}."""
        with self.lock:
            sizes = [(room, len(members)) for room, members in self.rooms.items()]
            version = self.version
        sizes = sorted((-size, room) for room, size in sizes if self.listed(room))
        return {
            "version": version,
            "total": len(sizes),
            "rooms": [{"room": room, "members": -size} for size, room in sizes[:limit]],
        }

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

    def deliver(self, socketio, member, event, message):
        """Sends one event to one member's connection."""
        socketio.emit(event, message, to=member.sid)

    def counts(self):
        with self.lock:
            return {"rooms": len(self.rooms), "members": len(self.by_sid)}
