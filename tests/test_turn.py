"""Relayed calls through a real coturn: two relay-only pages connect through it. (A wrong secret,
and what the page says then, is step 7's: tests/test_step7_across_networks.py.)"""

import socket
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from common.turn import SCTP_MISSING, run_quietly
from tests.coturn import SECRET, expect_relayed_both_ways, wait_for_port
from tests.server import ROOT, free_port

pytestmark = pytest.mark.browser


def join_relay_only(new_page, server, room, name, extra=""):
    page = new_page(f"{server.url}/?room={room}&relay=1{extra}")
    expect(page.locator("#signaling-state")).to_have_text("connected")
    page.fill("#name", name)
    page.click("#join")
    return page


def test_relay_only_pages_connect_through_coturn(turn_server, start_server, new_page, room):
    server = start_server(2, TURN_URLS=turn_server.url(), TURN_SECRET=SECRET)
    ann = join_relay_only(new_page, server, room, "Ann")
    bob = join_relay_only(new_page, server, room, "Bob")
    for page in (ann, bob):
        expect(page.locator("#connection-state")).to_have_text("connected")
        expect_relayed_both_ways(page)
        # The learner sees it in the stats panel too.
        local = page.locator("#stats tr[data-stat=local-candidate]")
        expect(local).to_contain_text("relay 127.0.0.1")
        expect(local).to_contain_text("to the TURN server over udp")
    ann.fill("#message", "through the relay")
    ann.click("#send")
    expect(bob.locator("#log")).to_contain_text("Ann: through the relay")


def test_make_turn_shows_the_settings_and_not_the_sctp_noise(turn_server, tmp_path):
    port = free_port()
    log = tmp_path / "make-turn.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "common.turn", "--port", str(port)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log)
    finally:
        process.terminate()
        process.wait(timeout=10)
    # Stopping `make turn` stops its coturn too: nothing listens on the port any more.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    text = log.read_text()
    assert f"TURN server on 127.0.0.1:{port}" in text
    assert "TURN_URLS='turn:127.0.0.1:" in text and "TURN_SECRET='" in text
    assert SCTP_MISSING not in text


def test_only_the_sctp_noise_is_held_back(capfd):
    noisy = f"import sys; print({SCTP_MISSING!r}, file=sys.stderr); print('real', file=sys.stderr)"
    assert run_quietly([sys.executable, "-c", noisy]) == 0
    assert capfd.readouterr().err == "real\n"
