"""Step 5: a video call as a full mesh. The signaling is common/signaling.py, unchanged since
step 2: offers, answers and candidates of a renegotiation travel exactly like the first ones.

The room cap is the lesson of the mesh: every page encodes and uploads its video once per other
member, and decodes one video per other member. A 4-page video mesh held 20 fps on 1.4 cores of a
2-core machine; an 8-page one fell to 1-2 fps (DESIGN.md section 5). So a room holds four.
MAX_ROOM_SIZE in the environment overrides the cap.
"""

from pathlib import Path

from common.app import create_app

ROOM_CAPACITY = 4
OPEN_HINT = "in two to four tabs (other machines need HTTPS for the camera; see the README)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY)
