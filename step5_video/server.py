"""Step 5: a video call as a full mesh. The signaling server is step 2's, unchanged: the offers,
answers and candidates of a renegotiation travel exactly like the first ones.

The room cap is the lesson of the mesh: every page encodes and uploads its video once per other
member, and decodes one video per other member. On a 2-core laptop a mesh of four still plays
smoothly and a mesh of eight does not (docs/benchmarks.md), so a room holds four. MAX_ROOM_SIZE in
the environment overrides the cap.
"""

from pathlib import Path

from common.app import create_app
from step2_two_users.server import relay

ROOM_CAPACITY = 4
OPEN_HINT = "in two to {capacity} tabs (other machines need HTTPS for the camera; see the README)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay)
