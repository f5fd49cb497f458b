"""Step 6: the server is a WebRTC peer. Each browser joins through the same signaling as before,
then opens ONE RTCPeerConnection, to the server (aiortc), instead of one to every other member.

Two events are new, on top of step 2's join / signal / leave (step2_two_users/server.py):

- `slots` (no payload) -> `{"ok": true, "slots": N}`: how many other members a page can see and
  hear, so that it offers that many receive-only video and audio transceivers;
- `offer` `{"description": {"type": "offer", "sdp"}}` -> `{"ok": true, "description": ANSWER}`.
  The browser sends its offer once ICE gathering is complete, and the answer carries the
  server's candidates: aiortc does not trickle, and nothing else is ever negotiated.

Errors come back in the signaling contract's shape, `{"ok": false, "error": {"code", "message"}}`,
with a code among `not-joined`, `invalid`, `too-large`, `already-connected`, `no-address` and
`failed`. `GET /server-peer/stats` counts the server peer's live connections and asyncio tasks.

Room cap: 10. The server forwards what members send without decoding it, which costs it a few
percent of a core per member (docs/server-peer-vs-mesh.md has the figures), and every page
receives a video per other member, so the rooms stay small enough for a laptop to watch.
MAX_ROOM_SIZE in the environment overrides the cap.
"""

import logging
import os
from pathlib import Path

from flask import request

from common.app import create_app
from common.ice import ice_servers
from common.signaling import SignalingError, payload
from step2_two_users.server import relay
from step6_server_peer.server_peer import ServerPeer

ROOM_CAPACITY = 10
# An offer with its slots can be bigger than a step 2-5 signal (64 KiB): Chromium's is 60 KB with
# 9 slots (Firefox's 26 KB).
OFFER_MAX_BYTES = 128 * 1024
OPEN_HINT = "in two to {capacity} tabs (other machines need HTTPS for the camera; see the README)."

log = logging.getLogger("server-peer")


def create(step_dir=Path(__file__).parent, server_peer_class=ServerPeer):
    """The app of this step; step 10 makes it with its own folder and a recording server peer."""
    if os.environ.get("REDIS_URL"):
        # Every member's media meets in this process's server peer: one process, one room state.
        raise SystemExit("Step 6 runs as one process: unset REDIS_URL (it is for steps 2 to 5).")
    logging.getLogger("aioice").setLevel(logging.WARNING)
    server_peer = server_peer_class(still_joined=lambda member: still_joined(rooms, member))
    server_peer.ice_servers_from(ice_servers(None))
    app, socketio = create_app(
        step_dir,
        room_capacity=ROOM_CAPACITY,
        relay=relay,
        on_depart=server_peer.depart,
    )
    rooms = app.extensions["rooms"]
    server_peer.slot_count = rooms.capacity - 1

    @socketio.on("slots")
    def on_slots(*args):
        return {"ok": True, "slots": server_peer.slot_count}

    @socketio.on("offer")
    def on_offer(*args):
        try:
            member = rooms.member(request.sid)
            offer = clean_offer(payload(args))
            description = server_peer.answer(member, offer)
        except SignalingError as err:
            log.info("offer refused for %s: %s (%s)", request.sid, err.code, err.message)
            return err.ack()
        return {"ok": True, "description": description}

    # For instructors and tests: how many aiortc connections and asyncio tasks are alive.
    app.get("/server-peer/stats")(server_peer.stats)
    app.extensions["server_peer"] = server_peer
    return app, socketio


def still_joined(rooms, member):
    try:
        return rooms.member(member.sid) is member
    except SignalingError:
        return False


def clean_offer(data):
    description = data.get("description")
    if (
        not isinstance(description, dict)
        or description.get("type") != "offer"
        or not isinstance(description.get("sdp"), str)
        or not description["sdp"]
    ):
        raise SignalingError("invalid", "send {description: {type: 'offer', sdp}}")
    if len(description["sdp"].encode()) > OFFER_MAX_BYTES:
        raise SignalingError("too-large", f"the offer is over {OFFER_MAX_BYTES} bytes")
    return description
