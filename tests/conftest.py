"""Shared fixtures: real servers started the way `make run` starts them, and real browsers.

Each browser test runs once in Chromium and once in Firefox (BROWSERS picks, tests/browsers.py).
Each browser user is a browser context (a fresh profile) in one browser process per session:
cheaper than one browser per user, and just as isolated.
"""

import os
import uuid

import pytest

from tests import browsers, coturn, redis_server
from tests.server import Server

# The other half of a mixed pair (see `other_browser`).
OTHER = {"chromium": "firefox", "firefox": "chromium"}


def pytest_configure(config):
    # pytest-playwright runs each browser test once per --browser; BROWSERS gives the default.
    if not config.option.browser:
        config.option.browser = browsers.selected()
    # Found now: Playwright's own Chromium is looked up before the tests' event loop starts.
    config.browser_paths = {name: browsers.find(name) for name in config.option.browser}


def missing(reason):
    """A browser or server the tests need is not here: a skip locally, a failure under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (.ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def launched(playwright, pytestconfig):
    """launched(name) -> that browser, started once for the whole session."""
    started = {}

    def launch(name):
        if name not in started:
            try:
                options = browsers.launch_options(name, pytestconfig.browser_paths.get(name))
            except browsers.Missing as error:
                missing(str(error))
            started[name] = getattr(playwright, name).launch(**options)
        return started[name]

    yield launch
    for browser in started.values():
        browser.close()


@pytest.fixture(scope="session")
def browser(browser_name, launched):
    """The browser this run of the test is for (pytest-playwright parametrizes browser_name)."""
    return launched(browser_name)


@pytest.fixture(scope="session")
def other_browser(browser_name, launched, pytestconfig):
    """The browser this run of the test is not for: a test that opens one page in `browser` and
    one in `other_browser` runs once with each first, so both cross both ways."""
    other = OTHER[browser_name]
    if other not in pytestconfig.option.browser:
        pytest.skip(f"a mixed pair needs both browsers; this run has only {browser_name}")
    return launched(other)


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
        missing(redis_server.HOW_TO_GET_ONE)
    logs = tmp_path_factory.mktemp("shared-logs")
    processes = [Server(4, logs, REDIS_URL=redis.url) for _ in range(2)]
    yield processes
    for process in processes:
        process.stop()
    redis.stop()


@pytest.fixture(scope="session")
def turn_server(tmp_path_factory):
    """A coturn of the tests' own (tests/coturn.py), with the secret `coturn.SECRET`."""
    try:
        server = coturn.Coturn(tmp_path_factory.mktemp("coturn") / "turnserver.log")
    except FileNotFoundError:
        missing(coturn.HOW_TO_GET_ONE)
    yield server
    server.stop()


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


def wait_until(page, async_predicate, arg=None, **options):
    """page.wait_for_function for a predicate that answers with a promise (getStats(), fetch()).
    Playwright does not await such an answer, and a promise is truthy: the wait would end at once.
    So each poll starts the predicate and answers with the latest result it finished with."""
    page.wait_for_function(
        f"""(() => {{
          const predicate = {async_predicate};
          let latest = false;
          return (arg) => {{
            predicate(arg).then((ok) => {{ latest = ok; }});
            return latest;
          }};
        }})()""",
        arg=arg,
        polling=100,
        **options,
    )


@pytest.fixture
def new_page(browser):
    """new_page(url, in_browser=None, init_script=None, route_socket=None, **context_options) ->
    a page in a fresh browser context: one more user, in the test's browser unless `in_browser`
    says otherwise. Scripts and routes are in place before the page loads; the probes above are
    always there."""
    contexts = []

    def open_page(url, in_browser=None, init_script=None, route_socket=None, **context_options):
        context = (in_browser or browser).new_context(**context_options)
        contexts.append(context)
        for script in (COUNT_PEER_CONNECTIONS, MEDIA_PROBES, init_script):
            if script:
                context.add_init_script(script)
        page = context.new_page()
        if route_socket:
            page.route_web_socket("**/socket.io/**", route_socket)
        page.goto(url)
        return page

    yield open_page
    for context in contexts:
        context.close()
