"""Step 4: a group chat as a full mesh. The signaling server is step 2's, unchanged; only the room
size differs.

Every member of a mesh holds a peer connection to every other member, so a room of n people has
n(n-1)/2 connections: eight people make 28 in all and 7 per page. That is still light for text,
but the cost grows with the square of the room, and video would not survive it (steps 5 and 6;
the figures are in docs/benchmarks.md). MAX_ROOM_SIZE in the environment overrides the cap.
"""

from pathlib import Path

from common.app import create_app
from step2_two_users.server import relay

ROOM_CAPACITY = 8
OPEN_HINT = "in several tabs, up to {capacity} per room (other machines: HOST=0.0.0.0)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay)
