"""Shared fixtures: real servers started the way `make run` starts them, and real Chromium.

Each browser user is a browser context (a fresh profile) in one shared Chromium: cheaper than one
browser per user, and just as isolated.
"""

import os
import uuid

import pytest

from tests import redis_server
from tests.chromium import HOW_TO_GET_ONE, find_chromium
from tests.server import Server

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


@pytest.fixture(scope="session")
def shared_step4(tmp_path_factory):
    """Two step 4 server processes sharing their rooms through a Redis of their own (REDIS_URL)."""
    try:
        redis = redis_server.RedisServer()
    except FileNotFoundError:
        if os.environ.get("CI"):
            pytest.fail(f"{redis_server.HOW_TO_GET_ONE} (.ci/run installs it)")
        pytest.skip(redis_server.HOW_TO_GET_ONE)
    logs = tmp_path_factory.mktemp("shared-logs")
    processes = [Server(4, logs, REDIS_URL=redis.url) for _ in range(2)]
    yield processes
    for process in processes:
        process.stop()
    redis.stop()


@pytest.fixture
def own_server(tmp_path):
    """own_server(step, **env) -> a Server for this test alone, which it may stop and restart."""
    servers = []

    def start(step, **env):
        servers.append(Server(step, tmp_path, **env))
        return servers[-1]

    yield start
    for server in servers:
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


# What the media tests read from a page, from getStats() of the tracks a remote tile plays,
# whichever connection carries them: `framesDecodedFrom(name)`, `audioPacketsFrom(name)`. It also
# records every data channel the page creates, in `createdChannels`. Injected by the tests, so no
# test hook lives in a lesson's main.js. Needs COUNT_PEER_CONNECTIONS.
MEDIA_PROBES = """
(() => {
  const tileTrack = (name, kind) => {
    const tile = [...document.querySelectorAll('.remote-tile')]
      .find((t) => t.dataset.peerName === name);
    return tile?.querySelector('video').srcObject?.getTracks().find((t) => t.kind === kind);
  };
  const received = async (name, kind, field) => {
    const track = tileTrack(name, kind);
    const pc = openPeerConnections().find((p) => p.getReceivers().some((r) => r.track === track));
    if (!track || !pc) {
      return 0;
    }
    let total = 0;
    (await pc.getStats(track)).forEach((report) => {
      if (report.type === 'inbound-rtp') {
        total += report[field] ?? 0;
      }
    });
    return total;
  };
  window.framesDecodedFrom = (name) => received(name, 'video', 'framesDecoded');
  window.audioPacketsFrom = (name) => received(name, 'audio', 'packetsReceived');
  window.createdChannels = [];
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args);
    window.createdChannels.push(channel);
    return channel;
  };
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
        context.add_init_script(MEDIA_PROBES)
        page = context.new_page()
        page.goto(url)
        return page

    yield open_page
    for context in contexts:
        context.close()
