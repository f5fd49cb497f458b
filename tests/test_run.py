"""`make run` itself: what a learner sees when the port or the address is wrong."""

import subprocess
import sys

import pytest

from common import run
from tests.server import ROOT


def test_a_busy_port_is_said_before_any_banner_with_who_holds_it(start_server):
    # The realistic case: step 1 still runs in another terminal, on the port step 2 wants.
    step1 = start_server(1)
    port = step1.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "common.run", "--step", "2", "--port", port],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "is running" not in result.stdout  # no banner that looks like success
    assert f"Cannot listen on 127.0.0.1:{port}: it is taken by " in result.stderr
    assert "common.run" in result.stderr  # the program that holds it
    assert f"(pid {step1.process.pid})" in result.stderr
    assert f"PORT={int(port) + 1}" in result.stderr


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
