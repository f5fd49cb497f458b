"""`make run` itself: what a learner sees when the port is taken."""

import subprocess
import sys

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
