"""tests/diagnosis.py: what `make check` says first when no connection came up, from the traces
the pages keep. Each case is a trace as two pages would leave it with one mistake in them; the
browsers' side (the trace itself, and the sentence under the first ✗) is proven by
test_a_planted_mistake_is_named_first below, on a real step."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.diagnosis import diagnose
from tests.planted import PEER_TO_PEER, first_line_under_first_failure
from tests.server import ROOT


def connection(**fields):
    return {
        "local": [],
        "remote": [],
        "gathered": 4,
        "added": 0,
        "addFailed": 0,
        "errors": [],
        "states": ["connecting"],
        "channels": 1,
        "remoteChannels": 0,
        "channelsOpen": 0,
        "tracks": 0,
        **fields,
    }


def page(name, sent=None, received=None, server_peer=False, **fields):
    counts = {"offer": 0, "answer": 0, "candidate": 0}
    return {
        "name": name,
        "signaling": {
            "sent": {**counts, **(sent or {})},
            "received": {**counts, **(received or {})},
            "serverPeer": server_peer,
        },
        "connections": [connection(**fields)],
    }


# Ann offers, Bob answers; what each did, when all goes well.
ANN = {"local": ["offer"], "remote": ["answer"], "added": 4}
BOB = {"local": ["answer"], "remote": ["offer"], "added": 4}
ANN_SENT = {"offer": 1, "candidate": 4}
BOB_SENT = {"answer": 1, "candidate": 4}


@pytest.mark.parametrize(
    ("pages", "said"),
    [
        (
            [{"name": "Ann", "signaling": None, "connections": []}],
            "no page made an RTCPeerConnection",
        ),
        (
            [page("Ann", channels=0), page("Bob", channels=0)],
            "no page made an offer: setLocalDescription() was never called",
        ),
        (
            [page("Ann", local=["offer"]), page("Bob")],
            "Ann's page made an offer but never sent it",
        ),
        (
            [page("Ann", {"offer": 1}, local=["offer"]), page("Bob", received={"offer": 1})],
            "Bob's page received an offer but never set it",
        ),
        (
            [
                page("Ann", {"offer": 1}, {"answer": 1}, local=["offer"]),
                page("Bob", {"answer": 1}, {"offer": 1}, local=["answer"], remote=["offer"]),
            ],
            "Ann's page received the answer but never set it",
        ),
        (
            [
                page("Ann", ANN_SENT, {"answer": 1}, **{**ANN, "added": 0}),
                page("Bob", {"answer": 1}, ANN_SENT, **BOB),
            ],
            "Bob's page found 4 ICE candidates but sent none",
        ),
        (
            [
                page("Ann", ANN_SENT, BOB_SENT, **{**ANN, "added": 0}),
                page("Bob", BOB_SENT, ANN_SENT, **{**BOB, "added": 0}),
            ],
            "Ann's page received 4 ICE candidates but added none",
        ),
        (
            [
                page(
                    "Ann",
                    ANN_SENT,
                    BOB_SENT,
                    **{**ANN, "errors": ["setRemoteDescription() failed: x"]},
                ),
                page("Bob", BOB_SENT, ANN_SENT, **BOB),
            ],
            "on Ann's page, setRemoteDescription() failed: x",
        ),
        (
            [
                page("Ann", ANN_SENT, BOB_SENT, **{**ANN, "states": ["connecting", "connected"]}),
                page("Bob", BOB_SENT, ANN_SENT, **{**BOB, "states": ["connected"], "channels": 0}),
            ],
            "a data channel on Ann's page never opened",
        ),
        (
            [
                page("Ann", {"offer": 1}, {"answer": 1}, server_peer=True, local=["offer"]),
            ],
            "Ann's page got the server's answer but never set it",
        ),
    ],
    ids=[
        "no connection",
        "no offer",
        "offer not sent",
        "offer not set",
        "answer not set",
        "candidates not sent",
        "candidates not added",
        "a failed call",
        "channel not open",
        "server peer's answer not set",
    ],
)
def test_the_first_missing_half_of_the_exchange_is_named(pages, said):
    assert said in diagnose(pages)


def test_connections_that_came_up_with_their_channels_open_say_nothing():
    up = {"states": ["connected"], "channelsOpen": 1}
    pages = [
        page("Ann", ANN_SENT, BOB_SENT, **ANN, **up),
        page("Bob", BOB_SENT, ANN_SENT, **BOB, **up),
    ]
    assert diagnose(pages) is None
    assert diagnose([]) is None
    assert diagnose([None]) is None


def test_a_planted_mistake_is_named_first(tmp_path):
    """Step 2 with its candidates never sent: under the first ✗, `make check` (in Chromium, its
    own browser) says that first."""
    folder = tmp_path / "step2_two_users"
    folder.mkdir()
    shutil.copy(ROOT / "step2_two_users" / "index.html", folder)
    _, line, replacement = PEER_TO_PEER[0]
    (folder / "main.js").write_text(
        (ROOT / "step2_two_users" / "main.js").read_text().replace(line, replacement, 1)
    )
    env = {**os.environ, "WORK_DIR": str(tmp_path), "BROWSERS": "chromium"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.learner", "2", "-x", "-n", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    first = first_line_under_first_failure(result.stdout)
    assert first.startswith("no connection came up:"), result.stdout
    assert "ICE candidates but sent none" in first, result.stdout
