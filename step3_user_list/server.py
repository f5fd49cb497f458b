"""Step 3: step 2's signaling server, unchanged, in bigger rooms. The page builds its live list
of users from the join ack's `peers` and the `peer-joined` / `peer-left` events, and opens one
peer connection per person it chats with. This step only sets the room size."""

from pathlib import Path

from common.app import create_app
from step2_two_users.server import relay

# Each user may end up holding a data channel to everyone else (up to 15 connections), which a
# laptop handles easily for text; 16 names also still fit in a list you can read at a glance.
# MAX_ROOM_SIZE overrides it.
ROOM_CAPACITY = 16
OPEN_HINT = "in three or more tabs (or on several machines with HOST=0.0.0.0)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay)
