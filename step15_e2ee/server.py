"""Step 15: step 6's server, unchanged. The pages encrypt every encoded frame before it leaves
and decrypt it after it arrives (main.js and crypto-worker.js); the server peer forwards the
frames as before, reading only what it always read of them, the first bytes that say whether a
VP8 frame is a keyframe and how large its picture is, which the pages leave clear. It never has
the key: the passphrase stays in the pages."""

from pathlib import Path

from step6_server_peer import server as step6

ROOM_CAPACITY = step6.ROOM_CAPACITY
OPEN_HINT = (
    "in two to {capacity} tabs with the same link (it carries the passphrase after #; other "
    "machines need HTTPS, see step 6's README)."
)


def create():
    return step6.create(Path(__file__).parent)
