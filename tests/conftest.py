"""Shared fixtures: real servers started the way `make run` starts them, and real browsers.

Each browser test runs once in Chromium and once in Firefox (BROWSERS picks, tests/browsers.py).
Each browser user is a browser context (a profile of its own) in one browser process per session:
cheaper than one browser per user, and just as isolated. Contexts are kept from one test to the
next (WarmContexts): a page goes back to about:blank between tests, which costs far less than a
new context and page. pytest-playwright's options (--headed, --slowmo, --browser-channel,
--tracing, --video, --screenshot) apply to every browser and page the tests open.
"""

import contextlib
import functools
import importlib
import os
import re
import sys
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from common.run import available_steps
from common.work import exercise
from tests import browsers, coturn, redis_server
from tests.diagnosis import WEBRTC_TRACE
from tests.server import Server

# On PYTHONPATH for every process the tests start, and on this one's path: no aiortc connection
# asks a public STUN server (aiortc_guard/ice_guard.py).
ICE_GUARD = Path(__file__).parent / "aiortc_guard"
sys.path.insert(0, str(ICE_GUARD))
ice_guard = importlib.import_module("ice_guard")  # the module sitecustomize.py loads, if it ran

# The other half of a mixed pair (see `other_browser`).
OTHER = {"chromium": "firefox", "firefox": "chromium"}


def pytest_configure(config):
    ice_guard.install()
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ICE_GUARD), os.environ.get("PYTHONPATH")])
    )
    # pytest-playwright runs each browser test once per --browser; BROWSERS gives the default.
    if not config.option.browser:
        config.option.browser = browsers.selected()
    for name in config.option.browser:
        if name not in browsers.NAMES:
            raise pytest.UsageError(browsers.UNSUPPORTED.format(name=name))
    if config.getoption("--video") != "off" and not browsers.video_recorder():
        raise pytest.UsageError(browsers.NO_VIDEO_RECORDER)
    # Found now: Playwright's own Chromium is looked up before the tests' event loop starts.
    config.browser_paths = {name: browsers.find(name) for name in config.option.browser}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (make test, make check): one pytest-xdist worker per core, at most 4. Each worker
    drives browsers of its own, so more would cost memory for little gain."""
    return min(4, os.cpu_count() or 1)


def pytest_collection_modifyitems(config, items):
    """A step's tests run from the most basic behaviour to the most advanced: the order of the
    hints in its exercise.toml, which is the order of its README's *What's new* (make check prints
    them in that order too): each file's tests in Chromium with those that need no browser, then
    in Firefox. Files keep their order, and other files' tests theirs."""
    first = {}
    for index, item in enumerate(items):
        first.setdefault(item.path, index)
    items.sort(key=lambda item: (first[item.path], browser_rank(item), hint_rank(item)))


def browser_rank(item):
    params = item.callspec.params if hasattr(item, "callspec") else {}
    return browsers.NAMES.index(params["browser_name"]) if "browser_name" in params else 0


def hint_rank(item):
    step = STEP_TEST_FILE.match(item.path.name)
    if not step:
        return 0
    hints = list(hints_of_step(int(step[1])))
    return hints.index(item.originalname) if item.originalname in hints else len(hints)


STEP_TEST_FILE = re.compile(r"test_step(\d+)_")


@functools.cache
def hints_of_step(number):
    return tuple(exercise(available_steps()[number]).get("hints", {}))


@pytest.fixture(autouse=True)
def no_default_ice_servers():
    """Fails a test whose own aiortc connections (in this process) got aiortc's default STUN
    server, even where the error was swallowed on the way."""
    yield
    made, ice_guard.made_without_ice_servers[:] = [*ice_guard.made_without_ice_servers], []
    assert not made, made[0]


def missing(reason):
    """A browser or server the tests need is not here: a skip locally, a failure under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (.ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def launched(playwright, pytestconfig, browser_type_launch_args):
    """launched(name) -> that browser, started once for the whole session, with pytest-playwright's
    launch options (--headed, --slowmo, --browser-channel) on top of ours."""
    started = {}

    def launch(name):
        if name not in started:
            path = pytestconfig.browser_paths.get(name)
            try:
                options = browsers.launch_options(name, path, browser_type_launch_args)
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


def shared_processes(tmp_path_factory, step):
    """Two server processes of `step` sharing their rooms through a Redis of their own."""
    try:
        redis = redis_server.RedisServer()
    except FileNotFoundError:
        missing(redis_server.HOW_TO_GET_ONE)
    logs = tmp_path_factory.mktemp("shared-logs")
    processes = [Server(step, logs, REDIS_URL=redis.url) for _ in range(2)]
    yield processes
    for process in processes:
        process.stop()
    redis.stop()


@pytest.fixture(scope="session")
def shared_step4(tmp_path_factory):
    """Two step 4 server processes sharing their rooms through a Redis of their own (REDIS_URL)."""
    yield from shared_processes(tmp_path_factory, 4)


@pytest.fixture(scope="session")
def shared_step12(tmp_path_factory):
    """Two step 12 server processes sharing their rooms, and so their lobby, through Redis."""
    yield from shared_processes(tmp_path_factory, 12)


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
# whichever connection carries them: `framesDecodedFrom(name)`, `audioPacketsFrom(name)`,
# `videoPacketsFrom(name)`, `audioEnergyFrom(name)` (inbound-rtp totalAudioEnergy). It also
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
  // Packets arrive whether or not they can be decoded; sound adds energy only once decoded.
  window.videoPacketsFrom = (name) => received(name, 'video', 'packetsReceived');
  window.audioEnergyFrom = (name) => received(name, 'audio', 'totalAudioEnergy');
  window.createdChannels = [];
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args);
    window.createdChannels.push(channel);
    return channel;
  };
})();
"""


PROBES = COUNT_PEER_CONNECTIONS + MEDIA_PROBES + WEBRTC_TRACE


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under `make check` (PAGES=work), a failed test carries what its pages did with WebRTC, for
    tests/learner.py to say why no connection came up (tests/diagnosis.py)."""
    report = (yield).get_result()
    if report.failed and report.when in ("setup", "call") and os.environ.get("PAGES") == "work":
        traces = []
        for page in getattr(item, "opened_pages", []):
            try:
                traces.append(None if page.is_closed() else page.evaluate("window.webrtcTrace?.()"))
            except Exception:  # a page that crashed or hangs tells nothing
                traces.append(None)
        report.user_properties.append(("webrtc", traces))


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
def new_context(browser, browser_context_args, _artifacts_recorder):
    """new_context(in_browser=None, **options) -> a fresh browser context, as pytest-playwright's
    own `new_context` makes it (so --tracing, --video and --screenshot record it), in the test's
    browser unless `in_browser` says otherwise: one more user."""
    contexts = []

    def make(in_browser=None, **options):
        context = (in_browser or browser).new_context(**{**browser_context_args, **options})
        context.add_init_script(PROBES)
        _artifacts_recorder.on_did_create_browser_context(context)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        with contextlib.suppress(PlaywrightError):  # a test may have closed it already
            _artifacts_recorder.on_will_close_browser_context(context)
        context.close()


class WarmContexts:
    """Browser contexts kept open from one test to the next, one page in each: a user in a test
    costs one navigation instead of a new context, page and content process. When its test ends,
    a page goes to about:blank, which closes all it held (connections, sockets, camera) as
    closing its context would; the test's own init script and cookies go too. A context a test
    closed is simply not reused."""

    def __init__(self):
        self.idle = {}  # (browser, context options) -> contexts ready for a test

    def take(self, browser, options):
        """A context of `browser` made with these new_context() options, and its one page."""
        idle = self.idle.setdefault(pool(browser, options), [])
        if idle:
            return idle.pop()
        context = browser.new_context(**options)
        context.add_init_script(PROBES)
        context.new_page()
        return context

    def give_back(self, browser, options, context, test_script):
        try:
            if test_script:
                test_script.dispose()
            page, *others = context.pages or [context.new_page()]
            for other in others:
                other.close()
            page.goto("about:blank")
            context.clear_cookies()
        except PlaywrightError:  # closed by the test: a tab closed is a leave in some tests
            return
        self.idle[pool(browser, options)].append(context)


def pool(browser, options):
    """Contexts are reused only with the options they were made with (a phone's viewport...)."""
    return browser, repr(sorted(options.items()))


@pytest.fixture(scope="session")
def warm_contexts():
    return WarmContexts()


def recording(config):
    """Whether pytest-playwright records traces, videos or screenshots: then each context is
    made fresh, for its recorder."""
    options = ("--tracing", "--video", "--screenshot")
    return any(config.getoption(option) not in ("off", None) for option in options)


@pytest.fixture
def new_page(browser, browser_context_args, new_context, warm_contexts, pytestconfig, request):
    """new_page(url, in_browser=None, init_script=None, route_socket=None, **context_options) ->
    a page of its own browser context: one more user, in the test's browser unless `in_browser`
    says otherwise. Scripts and routes are in place before the page loads; the probes above are
    always there. A warm context (WarmContexts) made with the same options where it can be, a
    fresh one (new_context) when the test routes the page's socket, or while pytest-playwright
    records."""
    taken = []
    request.node.opened_pages = []  # read when the test fails (pytest_runtest_makereport)

    def open_page(url, in_browser=None, init_script=None, route_socket=None, **context_options):
        in_browser = in_browser or browser
        fresh = bool(route_socket) or recording(pytestconfig)
        if fresh:
            context = new_context(in_browser, **context_options)
            page = context.new_page()
        else:
            # pytest-playwright's context options too (--device, --base-url), as new_context's.
            context_options = {**browser_context_args, **context_options}
            context = warm_contexts.take(in_browser, context_options)
            page = context.pages[0]
        test_script = context.add_init_script(init_script) if init_script else None
        if not fresh:
            taken.append((in_browser, context_options, context, test_script))
        if route_socket:
            page.route_web_socket("**/socket.io/**", route_socket)
        page.goto(url)
        request.node.opened_pages.append(page)
        return page

    yield open_page
    for in_browser, context_options, context, test_script in taken:
        warm_contexts.give_back(in_browser, context_options, context, test_script)
