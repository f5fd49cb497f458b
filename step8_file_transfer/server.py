"""Step 8: file transfer. The signaling server is step 2's, unchanged: files go peer to peer over a
data channel of their own, and the server never sees a byte of them. A room holds two, as in step
2: a file goes to one person, and the lesson is the channel, not the room.
"""

from pathlib import Path

from common.app import create_app
from step2_two_users.server import relay

ROOM_CAPACITY = 2
OPEN_HINT = "in two tabs (or on two machines with HOST=0.0.0.0 and HTTPS=1: see the README)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay)
