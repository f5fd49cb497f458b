"""Step 2: the signaling server. It introduces the browsers of a room to each other and carries
their offers, answers and ICE candidates; it never sees their chat.

Three events, each answered with an acknowledgement (docs/signaling-contract.md has every rule):

- `join {room, name}`: the ack gives the new member its id, the members already there and the ICE
  servers; those members get `peer-joined`.
- `signal {to, data}`: `data` (a description or a candidate) goes to that one member, with `from`
  set here, by the server, so no one can speak for someone else.
- `leave`, or a lost connection: the others get `peer-left`.

Steps 3 to 5, 7 to 9 and 11 use this server as it is; steps 6 and 10 add `slots` and `offer` to it,
for the server peer, and step 12 a lobby beside it. What is not the lesson is in common/: the
checks on each payload and the rooms with their limits (common/signaling.py, or
common/shared_rooms.py when REDIS_URL shares the rooms between processes), and the app around it
(common/app.py).
"""

import logging
import threading
from pathlib import Path

from flask import request

from common.app import create_app
from common.ice import ice_servers
from common.signaling import (
    Announcements,
    SignalingError,
    clean_name,
    clean_room,
    clean_signal,
    payload,
    take_signal,
)

ROOM_CAPACITY = 2
OPEN_HINT = "in two tabs (or on two machines with HOST=0.0.0.0)."

log = logging.getLogger("signaling")


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay)


def relay(socketio, rooms, on_depart=None):
    """Registers join, signal and leave on `socketio`. `on_depart(member)` runs after a member
    has left (step 6 uses it). Returns a function that makes every member here leave."""
    # Joins and leaves take turns: whoever joins later sees everyone earlier in its ack and is
    # never announced to them twice. Their news goes out in that order, after the turn.
    membership = threading.Lock()
    news = Announcements(
        lambda member, event, message: rooms.deliver(socketio, member, event, message)
    )

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
                joined = {"id": member.id, "name": name}
                sent = news.queue([(peer, "peer-joined", joined) for peer in peers])
            news.send(sent)
        except SignalingError as err:
            return refuse("join", err)
        log.info("%s (%s) joined %s", name, member.id, room)
        return {
            "ok": True,
            "id": member.id,
            "peers": [{"id": peer.id, "name": peer.name} for peer in peers],
            "iceServers": ice_servers(member),
        }

    @socketio.on("signal")
    def on_signal(*args):
        try:
            sender = rooms.member(request.sid)
            to, data = clean_signal(payload(args))
            target = rooms.peer(sender, to)
            take_signal(sender)
        except SignalingError as err:
            return refuse("signal", err)
        rooms.deliver(socketio, target, "signal", {"from": sender.id, "data": data})
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
            sent = news.queue([(other, "peer-left", {"id": member.id}) for other in others])
        news.send(sent)
        if member is not None:
            log.info("%s (%s) left %s", member.name, member.id, member.room)
            if on_depart:
                on_depart(member)

    @socketio.on_error_default
    def on_error(err):
        log.exception("unexpected error in a socket.io handler: %s", err)

    def depart_everyone():
        for sid in list(rooms.by_sid):
            depart(sid)

    return depart_everyone
