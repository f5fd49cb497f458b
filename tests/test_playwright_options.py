"""pytest-playwright's own options work on this suite (tests/conftest.py hands them on): --headed,
--slowmo and --browser-channel reach the browser's launch, --tracing, --video and --screenshot
record every user's page, and a browser the suite cannot drive is refused in one sentence. Each
case runs step 1's first test in a pytest of its own."""

import os
import subprocess
import sys
import zipfile

import pytest

from tests import browsers
from tests.conftest import missing
from tests.server import ROOT

STEP1_FIRST_TEST = "tests/test_step1_local.py::test_handshake_connects_both_peers_and_shows_the_sdp"


def run_pytest(*options, env=None):
    command = [sys.executable, "-m", "pytest", STEP1_FIRST_TEST, "-p", "no:cacheprovider", *options]
    environment = {**os.environ, "BROWSERS": "chromium", **(env or {})}
    environment.pop("CI", None)  # a missing browser is then a skip, not the failure checked here
    result = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    return result.returncode, result.stdout + result.stderr


def test_a_browser_the_suite_cannot_drive_is_refused_in_one_sentence():
    code, output = run_pytest("--browser", "webkit")
    assert code == pytest.ExitCode.USAGE_ERROR
    assert browsers.UNSUPPORTED.format(name="webkit") in output
    assert "KeyError" not in output and "Traceback" not in output


def test_launch_options_take_headed_slowmo_and_a_channel_of_that_browser():
    plugin = {"headless": False, "slow_mo": 250, "channel": "chrome"}
    chromium = browsers.launch_options("chromium", "/usr/bin/chromium", plugin)
    assert chromium["channel"] == "chrome" and "executable_path" not in chromium
    assert chromium["headless"] is False and chromium["slow_mo"] == 250
    assert "--use-fake-device-for-media-stream" in chromium["args"]
    # Chrome's channel is not Firefox's: Firefox keeps its own binary and channel.
    firefox = browsers.launch_options("firefox", "/usr/bin/firefox-esr", plugin)
    assert (
        firefox["channel"] == "moz-firefox" and firefox["executable_path"] == "/usr/bin/firefox-esr"
    )
    assert firefox["headless"] is False and firefox["slow_mo"] == 250
    beta = browsers.launch_options(
        "firefox", "/usr/bin/firefox-esr", {"channel": "moz-firefox-beta"}
    )
    assert beta["channel"] == "moz-firefox-beta" and "executable_path" not in beta


@pytest.mark.browser
def test_browser_channel_reaches_the_launch():
    # No Google Chrome here: Playwright says where it looked for the channel asked for.
    code, output = run_pytest("--browser-channel", "chrome")
    assert code != 0
    assert "Chromium distribution 'chrome' is not found" in output


@pytest.mark.browser
def test_headed_reaches_the_launch(tmp_path):
    # Without a display a headed browser cannot start, and Playwright says why: proof that the
    # launch was headed. (With a display, `make test PYTEST_ARGS=--headed` shows the browsers.)
    code, output = run_pytest("--headed", env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert code != 0
    assert "headed browser without having a XServer running" in output


@pytest.mark.browser
def test_tracing_video_and_screenshots_are_recorded_for_every_page(tmp_path):
    # In Chromium: Playwright's Firefox over WebDriver BiDi writes empty videos.
    if not browsers.video_recorder():
        missing(browsers.NO_VIDEO_RECORDER)
    code, output = run_pytest(
        "--tracing", "on", "--video", "on", "--screenshot", "on", "--output", str(tmp_path)
    )
    assert code == 0, output
    (folder,) = tmp_path.iterdir()  # one folder for the one test
    files = sorted(path.name for path in folder.iterdir())
    assert files == ["test-finished-1.png", "trace.zip", "video.webm"], files
    assert all((folder / name).stat().st_size > 1000 for name in files)
    with zipfile.ZipFile(folder / "trace.zip") as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())
