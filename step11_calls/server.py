"""Step 11: step 2's signaling server, in rooms of step 3's size. Calls need nothing new from it
but one more kind of signal data, `{call: {type, id}}` (invite, accept, decline, busy, cancel,
hang-up, and in-call / call-ended for the list): the server checks its shape and relays it to one
member, with `from` set by the server, as it does offers and candidates (common/signaling.py,
`clean_call`). It keeps no call state: ringing, busy and hanging up live in the pages."""

from pathlib import Path

from common.app import create_app
from step2_two_users.server import relay
from step3_user_list.server import ROOM_CAPACITY

OPEN_HINT = "in two or three tabs (or on several machines with HOST=0.0.0.0)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay)
