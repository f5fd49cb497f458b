"""A throwaway coturn on a free loopback port, started as `make turn` starts it (common/turn.py),
for the tests of relayed calls: steps 2 and 7."""

import os
import shutil
import socket
import subprocess
import time

from common.turn import turnserver_command
from tests.server import free_port

HOW_TO_GET_ONE = "coturn is not installed: apt-get install coturn to run the TURN tests"
SECRET = "test-secret-for-coturn"
# The ports coturn relays from: a relayed pair has one of these at each end. Each pytest-xdist
# worker (gw0, gw1...) starts a coturn of its own, with a range of its own.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
RELAY_PORTS = (51000 + 300 * WORKER, 51200 + 300 * WORKER)

# The pair a page's first connection chose: [local type, remote type, remote port].
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


class Coturn:
    def __init__(self, log_path, secret=SECRET):
        binary = shutil.which("turnserver")
        if binary is None:
            raise FileNotFoundError(HOW_TO_GET_ONE)
        self.port = free_port()
        self.log_path = log_path
        with open(log_path, "w") as output:
            self.process = subprocess.Popen(
                turnserver_command(binary, secret, "127.0.0.1", self.port, RELAY_PORTS),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, self.process, log_path)

    def url(self, transport="udp", scheme="turn"):
        return f"{scheme}:127.0.0.1:{self.port}" + (f"?transport={transport}" if transport else "")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def wait_for_port(port, process, log_path, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            try:  # a moment for the port to open, noticing an early exit
                process.wait(timeout=0.1)
                raise RuntimeError(f"coturn exited:\n{log_path.read_text()}")
            except subprocess.TimeoutExpired:
                pass
    raise RuntimeError(f"coturn did not listen on {port}:\n{log_path.read_text()}")
