"""Step 7: across networks. The signaling server is step 2's, unchanged; what is new on the server
side is what its `join` acknowledgement hands out as `iceServers`, from the environment
(common/ice.py):

- `STUN_URLS`: STUN servers, which tell a browser the address its NAT gives it (srflx candidates).
- `TURN_URLS` and `TURN_SECRET`: TURN servers, which relay when no direct path exists (relay
  candidates). Each member gets credentials of its own, made from the secret and valid for
  `TURN_TTL` seconds; the secret never leaves the server.

`make turn` starts a local coturn and prints the settings to run this step with.
"""

from pathlib import Path

from common.app import create_app
from step2_two_users.server import relay

ROOM_CAPACITY = 2
OPEN_HINT = "in two tabs, or on two machines (with `make turn` for a relay: see the README)."


def create():
    return create_app(Path(__file__).parent, room_capacity=ROOM_CAPACITY, relay=relay)
