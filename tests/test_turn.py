"""Relayed calls through a real coturn: two relay-only pages connect through it, and a wrong
secret makes ICE fail visibly."""

import shutil
import socket
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from common.turn import SCTP_MISSING, run_quietly, turnserver_command
from tests.conftest import missing
from tests.server import ROOT, free_port

pytestmark = pytest.mark.browser
SECRET = "test-secret-for-coturn"

RELAY_PORTS = (51000, 51200)
# The chosen pair: [local type, remote type, remote port].
SELECTED_PAIR = """
async () => {
  const stats = await openPeerConnections()[0].getStats();
  const transport = [...stats.values()].find((s) => s.type === 'transport');
  // Firefox has no transport stats: it marks the chosen pair itself.
  const pair = transport ? stats.get(transport.selectedCandidatePairId)
    : [...stats.values()].find((s) => s.type === 'candidate-pair' && s.selected);
  const remote = stats.get(pair.remoteCandidateId);
  return [stats.get(pair.localCandidateId).candidateType, remote.candidateType, remote.port];
}
"""


def expect_relayed_both_ways(page):
    """The page sends from its relay, to the other side's relay: both ends are coturn ports.
    Firefox may label the remote end prflx (its check arrived before its candidate did)."""
    local, remote, port = page.evaluate(SELECTED_PAIR)
    assert local == "relay"
    assert remote in ("relay", "prflx") and RELAY_PORTS[0] <= port <= RELAY_PORTS[1], (remote, port)


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    binary = shutil.which("turnserver")
    if binary is None:
        missing("coturn is not installed: apt-get install coturn to run the TURN tests")
    port = free_port()
    log = tmp_path_factory.mktemp("coturn") / "turnserver.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            turnserver_command(binary, SECRET, "127.0.0.1", port, RELAY_PORTS),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(port, process, log)
    yield f"turn:127.0.0.1:{port}?transport=udp"
    process.terminate()
    process.wait(timeout=10)


def wait_for_port(port, process, log, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            try:  # a moment for coturn to open its port, noticing an early exit
                process.wait(timeout=0.1)
                pytest.fail(f"coturn exited:\n{log.read_text()}")
            except subprocess.TimeoutExpired:
                pass
    pytest.fail(f"coturn did not listen on {port}:\n{log.read_text()}")


def join_relay_only(new_page, server, room, name, extra=""):
    page = new_page(f"{server.url}/?room={room}&relay=1{extra}")
    expect(page.locator("#signaling-state")).to_have_text("connected")
    page.fill("#name", name)
    page.click("#join")
    return page


def test_relay_only_pages_connect_through_coturn(coturn, start_server, new_page, room):
    server = start_server(2, TURN_URLS=coturn, TURN_SECRET=SECRET)
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


def test_a_wrong_secret_makes_ice_fail_visibly(coturn, start_server, new_page, room):
    server = start_server(2, TURN_URLS=coturn, TURN_SECRET="not-the-secret")
    pages = [
        join_relay_only(new_page, server, room, name, "&iceTimeout=2000") for name in ("Ann", "Bob")
    ]
    for page, other in zip(pages, ("Bob", "Ann"), strict=True):
        expect(page.locator("#log")).to_contain_text(f"Could not connect to {other}")
        expect(page.locator("#connection-state")).not_to_have_text("connected")


def test_make_turn_shows_the_settings_and_not_the_sctp_noise(coturn, tmp_path):
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
