"""`make run` itself: what a learner sees when the port or the address is wrong."""

import subprocess
import sys
from pathlib import Path

import pytest

from common import run
from tests.server import ROOT


def run_on_the_port_of(server):
    """Step 2 started on the port `server` already listens on."""
    port = server.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "common.run", "--step", "2", "--port", port],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return int(port), result


def test_a_busy_port_is_said_before_any_banner(start_server):
    # The realistic case: step 1 still runs in another terminal, on the port step 2 wants.
    port, result = run_on_the_port_of(start_server(1))
    assert result.returncode != 0
    assert "is running" not in result.stdout  # no banner that looks like success
    assert f"Cannot listen on 127.0.0.1:{port}: " in result.stderr
    assert f"PORT={port + 1}" in result.stderr


@pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(),
    reason="who holds a port is read from /proc, which only Linux has; elsewhere the message "
    "says only that the port is taken",
)
def test_a_busy_port_is_said_with_who_holds_it(start_server):
    step1 = start_server(1)
    port, result = run_on_the_port_of(step1)
    assert f"Cannot listen on 127.0.0.1:{port}: it is taken by " in result.stderr
    assert "common.run" in result.stderr  # the program that holds it
    assert f"(pid {step1.process.pid})" in result.stderr


def test_a_host_that_is_not_this_machines_is_said_so_and_not_called_a_busy_port():
    with pytest.raises(SystemExit, match=r"HOST=192\.0\.2\.1 is not an address of this machine"):
        run.check_port("192.0.2.1", 8080)  # TEST-NET-1: never a real machine's address
    with pytest.raises(SystemExit, match=r"HOST=nonexist\.invalid is not an address or a name"):
        run.check_port("nonexist.invalid", 8080)


def test_an_ipv6_address_is_printed_as_a_url_that_works():
    assert run.urls_to_open("::1", 8080, "http") == ["http://[::1]:8080/"]
    assert run.urls_to_open("127.0.0.1", 8080, "https") == ["https://127.0.0.1:8080/"]


def test_the_banner_says_the_room_size_the_server_really_has(own_server):
    server = own_server(4, MAX_ROOM_SIZE=3)
    assert "up to 3 per room" in server.log_path.read_text()
