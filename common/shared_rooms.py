"""Room state in Redis, so that several server processes can share the rooms: the way past what
one Python process can relay (docs/benchmarks.md). Set REDIS_URL=redis://host:6379/0 on every
process; Flask-SocketIO then passes each emit through Redis to the process that holds the
connection, and the processes sit behind a load balancer (or clients pick one).

`SharedRooms` has the same methods and rules as `signaling.Rooms`. Join and leave each run as one
Lua script, so the capacity, the unique names and the list of peers stay exact however many
processes join at once. What belongs to a connection (its Member and rate-limit bucket) stays in
the process that holds it.

A process that stops takes its members out (common/run.py runs the app's stop hooks); one that
crashes leaves them in Redis: clear the keys (`redis-cli --scan --pattern 'signaling:*' | xargs
redis-cli del`) before starting it again (docs/scaling.md).
"""

import json
import secrets
import threading

import redis

from common.signaling import Member, SignalingError, TokenBucket

# KEYS: the room's members (id -> JSON), the set of room names, the member count, the listed
# rooms (a sorted set: room -> minus its size, so that the busiest come first), the version of
# that list. ARGV: room, id, member JSON, folded name, capacity, max rooms, listed ('1' or '0').
JOIN = """
local size = redis.call('HLEN', KEYS[1])
if size == 0 and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  return {'no-room'}
end
if size >= tonumber(ARGV[5]) then
  return {'room-full'}
end
local peers = redis.call('HGETALL', KEYS[1])
for i = 2, #peers, 2 do
  if cjson.decode(peers[i]).folded == ARGV[4] then
    return {'name-taken'}
  end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
if ARGV[7] == '1' then
  redis.call('ZINCRBY', KEYS[4], -1, ARGV[1])
  redis.call('INCR', KEYS[5])
end
table.insert(peers, 1, 'ok')
return peers
"""

# KEYS as for JOIN. ARGV: room, id, listed. Returns the others still in the room, or false.
LEAVE = """
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then
  return false
end
redis.call('DECR', KEYS[3])
local others = redis.call('HGETALL', KEYS[1])
if #others == 0 then
  redis.call('SREM', KEYS[2], ARGV[1])
end
if ARGV[3] == '1' then
  if #others == 0 then
    redis.call('ZREM', KEYS[4], ARGV[1])
  else
    redis.call('ZINCRBY', KEYS[4], 1, ARGV[1])
  end
  redis.call('INCR', KEYS[5])
end
return others
"""

# KEYS: the listed rooms, the version. ARGV: how many rooms at most. One read of all three.
LISTING = """
local rooms = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
return {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('ZCARD', KEYS[1]), rooms}
"""


class SharedRooms:
    """Who is in which room, kept in Redis under `prefix` (one prefix per step)."""

    def __init__(
        self,
        url,
        prefix,
        capacity,
        max_rooms=1000,
        signal_rate=50.0,
        signal_burst=400.0,
        listed=None,
    ):
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        try:
            self.redis.ping()
        except redis.RedisError as err:
            raise SystemExit(f"REDIS_URL={url}: cannot reach Redis ({err})") from None
        self.prefix = prefix
        self.capacity = capacity
        self.max_rooms = max_rooms
        self.signal_rate = signal_rate
        self.signal_burst = signal_burst
        self.listed = listed
        self.join_script = self.redis.register_script(JOIN)
        self.leave_script = self.redis.register_script(LEAVE)
        self.listing_script = self.redis.register_script(LISTING)
        self.by_sid = {}  # this process's connections: socket.io session id -> Member
        self.lock = threading.Lock()

    def keys(self, room):
        return [
            f"{self.prefix}:room:{room}",
            f"{self.prefix}:rooms",
            f"{self.prefix}:members",
            f"{self.prefix}:lobby",
            f"{self.prefix}:lobby-version",
        ]

    def is_listed(self, room):
        return "1" if self.listed and self.listed(room) else "0"

    def join(self, sid, room, name):
        with self.lock:
            if sid in self.by_sid:
                raise SignalingError("already-joined", "this connection is already in a room")
            member_id = secrets.token_urlsafe(9)
            record = json.dumps({"name": name, "sid": sid, "folded": name.casefold()})
            reply = self.join_script(
                self.keys(room),
                [
                    room,
                    member_id,
                    record,
                    name.casefold(),
                    self.capacity,
                    self.max_rooms,
                    self.is_listed(room),
                ],
            )
            if reply[0] == "no-room":
                raise SignalingError(
                    "room-full", "the server holds as many rooms as it can; try again later"
                )
            if reply[0] == "room-full":
                raise SignalingError("room-full", f"the room is full ({self.capacity} members)")
            if reply[0] == "name-taken":
                raise SignalingError("name-taken", f"the name {name} is taken in this room")
            member = Member(
                member_id, name, room, sid, TokenBucket(self.signal_rate, self.signal_burst)
            )
            self.by_sid[sid] = member
            return member, members_of(room, reply[1:])

    def leave(self, sid):
        with self.lock:
            member = self.by_sid.pop(sid, None)
        if member is None:
            return None, []
        others = self.leave_script(
            self.keys(member.room), [member.room, member.id, self.is_listed(member.room)]
        )
        return member, members_of(member.room, others or [])

    def member(self, sid):
        member = self.by_sid.get(sid)
        if member is None:
            raise SignalingError("not-joined", "join a room first")
        return member

    def peer(self, sender, peer_id):
        record = self.redis.hget(self.keys(sender.room)[0], peer_id)
        if record is None or peer_id == sender.id:
            raise SignalingError("unknown-peer", "no such peer in your room")
        return member_from(sender.room, peer_id, record)

    def deliver(self, socketio, member, event, message):
        """Through Redis to the process that holds the connection, unless it is this one."""
        socketio.emit(event, message, to=member.sid, ignore_queue=member.sid in self.by_sid)

    def listing(self, limit):
        """As `signaling.Rooms.listing`, from Redis: every process's rooms."""
        version, total, flat = self.listing_script(self.keys("")[3:], [limit])
        return {
            "version": version,
            "total": total,
            "rooms": [
                {"room": flat[i], "members": -int(float(flat[i + 1]))}
                for i in range(0, len(flat), 2)
            ],
        }

    def counts(self):
        _, rooms_key, members_key = self.keys("")[:3]
        return {
            "rooms": self.redis.scard(rooms_key),
            "members": int(self.redis.get(members_key) or 0),
        }


def member_from(room, member_id, record):
    """A member held by any process: enough to address it (its sid) and to name it."""
    fields = json.loads(record)
    return Member(member_id, fields["name"], room, fields["sid"], bucket=None)


def members_of(room, flat):
    """Members from a flat [id, record, id, record, ...] list, as HGETALL gives them."""
    return [member_from(room, flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
