"""Step 12: a lobby. Step 2's signaling server, in rooms of step 4's size, plus a list of the
rooms that are open, pushed to every page that watches it whenever a room changes.

Three requests are added to the contract (docs/signaling-contract.md, "The lobby"):

- `watch-lobby`: the ack holds the list; from then on the page gets `lobby` with the new list
  after every change, within PUSH_DELAY. `unwatch-lobby` stops it.
- `private-room`: the ack holds a new room name made here from 128 random bits, which the page
  then joins like any other. Such a name is never listed: whoever has the link may come in, and
  nobody can guess it.

The list holds room names and how many are in each, busiest first, at most LOBBY_MAX of them:
never who is in a room, and never a private room. Pushing costs nothing while nothing changes,
and however fast rooms change, one process pushes at most one list per PUSH_DELAY. Joins and
lobby requests are rate-limited per connection, so a flood from one page is refused while the
rooms already in use go on (signals have their own limit). With REDIS_URL the rooms, and so the
list, are shared by every process.
"""

import re
import secrets
import threading
from pathlib import Path

from flask import session
from flask_socketio import join_room, leave_room

from common.app import create_app, env_number
from common.signaling import SignalingError, TokenBucket
from step2_two_users.server import relay
from step4_group_chat.server import ROOM_CAPACITY

OPEN_HINT = (
    "in several tabs: pick a room from the lobby, or make one (other machines: HOST=0.0.0.0)."
)
LOBBY = "lobby"  # the socket.io room of the pages watching the list
# Rooms in one list at most (LOBBY_MAX in the environment); `total` says how many are listed.
LOBBY_MAX = env_number("LOBBY_MAX", 50)
PUSH_DELAY = 0.25  # seconds: the changes made within it go out as one list
# Lobby requests (join, watch-lobby, private-room) per connection: 10 at once, then 1 a second
# (LOBBY_REQUEST_RATE in the environment).
REQUEST_BURST = 10
REQUEST_RATE = env_number("LOBBY_REQUEST_RATE", 1.0, float)
# A private room: "private-" and 22 characters, 128 random bits. It still fits a room name.
PRIVATE_ROOM = re.compile(r"private-[A-Za-z0-9_-]{22}")


def create():
    return create_app(
        Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay_with_lobby, listed=listed
    )


def listed(room):
    return not PRIVATE_ROOM.fullmatch(room)


def private_room_name():
    return "private-" + secrets.token_urlsafe(16)


def relay_with_lobby(socketio, rooms, on_depart=None):
    """Step 2's relay, on rooms that tell the lobby when they change; and the lobby's requests."""
    lobby = Lobby(socketio, rooms)
    depart_everyone = relay(socketio, LobbyRooms(rooms, lobby), on_depart)

    @socketio.on("watch-lobby")
    def on_watch(*args):
        try:
            take_request()
        except SignalingError as err:
            return err.ack()
        join_room(LOBBY)
        return {"ok": True, **lobby.listing()}

    @socketio.on("unwatch-lobby")
    def on_unwatch(*args):
        leave_room(LOBBY)
        return {"ok": True}

    @socketio.on("private-room")
    def on_private_room(*args):
        try:
            take_request()
        except SignalingError as err:
            return err.ack()
        return {"ok": True, "room": private_room_name()}

    return depart_everyone


class Lobby:
    """Pushes the list to the pages watching it, once per burst of changes."""

    def __init__(self, socketio, rooms):
        self.socketio = socketio
        self.rooms = rooms
        self.timer = None  # set while a push is due; nothing runs while nothing changes
        self.lock = threading.Lock()

    def listing(self):
        return {"capacity": self.rooms.capacity, **self.rooms.listing(LOBBY_MAX)}

    def changed(self, room):
        if not listed(room):
            return
        with self.lock:
            if self.timer is None:
                self.timer = threading.Timer(PUSH_DELAY, self.push)
                self.timer.daemon = True
                self.timer.start()

    def push(self):
        with self.lock:
            self.timer = None
        # Read after the timer is cleared: a change from now on schedules another push.
        self.socketio.emit("lobby", self.listing(), to=LOBBY)


class LobbyRooms:
    """Step 2's rooms with two things around join and leave: a rate limit on joining, and a word
    to the lobby after every change. Everything else is the rooms' own."""

    def __init__(self, rooms, lobby):
        self.rooms = rooms
        self.lobby = lobby

    def join(self, sid, room, name):
        take_request()
        joined = self.rooms.join(sid, room, name)
        self.lobby.changed(room)
        return joined

    def leave(self, sid):
        member, others = self.rooms.leave(sid)
        if member is not None:
            self.lobby.changed(member.room)
        return member, others

    def __getattr__(self, name):
        return getattr(self.rooms, name)


def take_request():
    """Counts one lobby request against this connection's limit, or refuses it. Flask-SocketIO's
    `session` belongs to the connection, so the bucket goes when the connection does."""
    bucket = session.setdefault("requests", TokenBucket(REQUEST_RATE, REQUEST_BURST))
    if not bucket.take():
        raise SignalingError("rate-limited", "too many room requests; wait a moment")
