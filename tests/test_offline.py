"""The tests stay offline: no aiortc connection they make, in this process or in a process they
start, gets aiortc's default public STUN server (tests/aiortc_guard/ice_guard.py)."""

import os
import subprocess
import sys

from tests.conftest import ice_guard

MAKE_A_CONNECTION = """
from aiortc import RTCConfiguration, RTCPeerConnection
RTCPeerConnection({}).createDataChannel("chat")
print("made")
"""


def make_a_connection_in_a_process(configuration):
    """A process the tests start, as they start servers: it inherits their PYTHONPATH."""
    script = MAKE_A_CONNECTION.format(configuration)
    command = [sys.executable, "-c", script]
    return subprocess.run(command, capture_output=True, text=True, env=os.environ, check=False)


def test_a_process_the_tests_start_refuses_a_connection_without_ice_servers():
    refused = make_a_connection_in_a_process("")
    assert refused.returncode != 0 and ice_guard.MESSAGE in refused.stderr
    made = make_a_connection_in_a_process("RTCConfiguration(iceServers=[])")
    assert made.returncode == 0 and made.stdout.strip() == "made", made.stderr


def test_this_process_refuses_a_connection_without_ice_servers_and_says_so():
    from aiortc import RTCConfiguration, RTCPeerConnection

    RTCPeerConnection(RTCConfiguration(iceServers=[])).createDataChannel("chat")
    assert ice_guard.made_without_ice_servers == []
    try:
        RTCPeerConnection().createDataChannel("chat")  # no iceServers: refused
    except RuntimeError as error:
        assert str(error) == ice_guard.MESSAGE
    else:
        raise AssertionError("a connection without iceServers was made")
    # The autouse fixture no_default_ice_servers would now fail this test: it must, so the
    # record is checked, then cleared.
    assert ice_guard.made_without_ice_servers == [ice_guard.MESSAGE]
    ice_guard.made_without_ice_servers.clear()
