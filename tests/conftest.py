"""Shared fixtures: real servers started the way `make run` starts them, and real Chromium.

Each browser user is a browser context (a fresh profile) in one shared Chromium: cheaper than one
browser per user, and just as isolated.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.chromium import HOW_TO_GET_ONE, find_chromium

ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 20

CHROMIUM_ARGS = [
    # A fake camera and microphone, granted without a prompt. Granting media also keeps host
    # candidates as real addresses instead of mDNS .local names.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # On a machine whose only interface is loopback, peers must be allowed to use it.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = find_chromium()
    if path is None:
        pytest.exit(HOW_TO_GET_ONE, returncode=1)
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `python -m common.run` process on a free port, as `make run` starts it."""

    def __init__(self, step, log_dir, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"step{step}-{self.port}.log"
        environment = {**os.environ, "STEP": str(step), "PORT": str(self.port), "HOST": "127.0.0.1"}
        environment.update({key: str(value) for key, value in env.items()})
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "common.run"],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_until_ready()

    def wait_until_ready(self):
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            try:  # waits a moment for the port to open, and notices an early exit
                self.process.wait(timeout=0.05)
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            except subprocess.TimeoutExpired:
                pass
        self.stop()
        raise RuntimeError(
            f"server not ready in {SERVER_START_TIMEOUT} s:\n{self.log_path.read_text()}"
        )

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def start_server(tmp_path_factory):
    """start_server(step, **env) -> Server; one process per configuration for the session."""
    servers = {}
    log_dir = tmp_path_factory.mktemp("server-logs")

    def start(step, **env):
        key = (step, tuple(sorted(env.items())))
        if key not in servers:
            servers[key] = Server(step, log_dir, **env)
        return servers[key]

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture
def room():
    """A room name of its own for each test, so tests sharing a server never meet."""
    return f"t-{uuid.uuid4().hex[:12]}"


# Lets a test count the peer connections a page holds, whatever the page's own code calls them:
# `openPeerConnections()` in the page gives those not closed.
COUNT_PEER_CONNECTIONS = """
(() => {
  const Native = window.RTCPeerConnection;
  const created = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      created.push(this);
    }
  };
  window.openPeerConnections = () => created.filter((pc) => pc.signalingState !== 'closed');
})();
"""


@pytest.fixture
def new_page(browser):
    """new_page(url) -> a page in a fresh browser context: one more user."""
    contexts = []

    def open_page(url):
        context = browser.new_context()
        contexts.append(context)
        context.add_init_script(COUNT_PEER_CONNECTIONS)
        page = context.new_page()
        page.goto(url)
        return page

    yield open_page
    for context in contexts:
        context.close()
