"""Step 2: the signaling server relays offers, answers and candidates between the two members of
a room. The signaling itself is common/signaling.py; this step only sets the room size."""

from pathlib import Path

from common.app import create_app

ROOM_CAPACITY = 2
OPEN_HINT = "in two tabs (or on two machines with HOST=0.0.0.0)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY)
