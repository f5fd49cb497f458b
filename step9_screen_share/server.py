"""Step 9: screen sharing in step 5's video mesh. The signaling server is step 2's, unchanged, and
sharing adds nothing to it: replaceTrack() swaps the camera's picture for the screen's on each
connection without a new offer, so not one more signal goes through the server.

The room cap is step 5's: every page still encodes and uploads its video once per other member,
and a shared screen is a bigger picture than a camera, so a room holds four. MAX_ROOM_SIZE in the
environment overrides the cap.
"""

from pathlib import Path

from common.app import create_app
from step2_two_users.server import relay

ROOM_CAPACITY = 4
OPEN_HINT = (
    "in two to {capacity} tabs of a desktop browser, and press Share screen in one "
    "(other machines need HTTPS for the camera and the screen; see the README)."
)


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay)
