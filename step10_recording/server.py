"""Step 10: the server peer records the room. The server is step 6's (step6_server_peer/server.py),
with a recording server peer (recording.py) and one more route:

- `GET /recordings/<folder>/<file>`: a recorded file, listed to the members when its recording
  stops. Each recording has a folder of its own with an unguessable name, which only the members
  of the room are told.

Nothing else changes: the same signaling, the same `slots` and `offer` events, one connection per
member. Recording is asked and announced on the data channel (recording.py has the protocol).
"""

from pathlib import Path

from flask import send_from_directory

from step6_server_peer import server as step6
from step10_recording.recording import RECORDINGS_DIR, RecordingServerPeer

ROOM_CAPACITY = step6.ROOM_CAPACITY
OPEN_HINT = step6.OPEN_HINT


def create():
    app, socketio = step6.create(Path(__file__).parent, RecordingServerPeer)

    @app.get("/recordings/<folder>/<name>")
    def recorded_file(folder, name):
        # send_from_directory refuses any path that leaves RECORDINGS_DIR.
        return send_from_directory(RECORDINGS_DIR, f"{folder}/{name}", mimetype="video/webm")

    return app, socketio
