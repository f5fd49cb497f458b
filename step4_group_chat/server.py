"""Step 4: a group chat as a full mesh. The signaling is common/signaling.py, unchanged since
step 2; only the room size differs.

Every member of a mesh holds a peer connection to every other member, so a room of n people has
n(n-1)/2 connections. Eight people make 28 connections in all and 7 per page: still light for
text (an 8-page mesh connects in under a second on a 2-core machine), but the cost grows with the
square of the room, and video would not survive it (see step 5 and step 6). MAX_ROOM_SIZE in the
environment overrides the cap.
"""

from pathlib import Path

from common.app import create_app

ROOM_CAPACITY = 8
OPEN_HINT = "in several tabs, up to 8 per room (other machines: HOST=0.0.0.0)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY)
