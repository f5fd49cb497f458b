"""Finds the browsers the browser tests drive, and says how to launch each.

- Chromium: the CHROMIUM environment variable; Playwright's own Chromium; a Chromium or Chrome on
  PATH; Chrome or Edge where they install themselves on macOS and Windows.
- Firefox: the FIREFOX environment variable; a Firefox on PATH (Debian's firefox-esr); Firefox
  where it installs itself on macOS and Windows. Playwright
  drives a stock Firefox over WebDriver BiDi (the "moz-firefox" channel), so no patched build is
  needed.

BROWSERS=chromium or BROWSERS=firefox runs one of them; by default the tests run in both.
`python -m tests.browsers --install` (run by `make test`) also tries `playwright install chromium`
first, and says which browsers the tests will use and how to get a missing one.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import playwright
from playwright.sync_api import sync_playwright

NAMES = ("chromium", "firefox")
# pytest-playwright offers WebKit too; these tests need fake media and loopback ICE, which only
# the two browsers above are set up for here.
UNSUPPORTED = (
    "--browser {name}: these tests drive Chromium and Firefox only; use --browser chromium, "
    "--browser firefox or both (or BROWSERS=chromium,firefox)."
)
SYSTEM_BINARIES = {
    "chromium": ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
    "firefox": ("firefox-esr", "firefox"),
}
# Where Chrome, Edge and Firefox install themselves when they are not on PATH: the places
# Playwright's channels (chrome, msedge, moz-firefox) look in. {name: {platform: [path parts]}};
# on Windows the first part is an environment variable.
INSTALLED = {
    "chromium": {
        "darwin": [
            ["/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"],
            ["/Applications/Chromium.app/Contents/MacOS/Chromium"],
            ["/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge"],
        ],
        "win32": [
            [root, "Google", "Chrome", "Application", "chrome.exe"]
            for root in ("ProgramFiles", "ProgramFiles(x86)", "LOCALAPPDATA")
        ]
        + [
            [root, "Microsoft", "Edge", "Application", "msedge.exe"]
            for root in ("ProgramFiles(x86)", "ProgramFiles")
        ],
    },
    "firefox": {
        "darwin": [["/Applications/Firefox.app/Contents/MacOS/firefox"]],
        "win32": [
            [root, "Mozilla Firefox", "firefox.exe"]
            for root in ("ProgramFiles", "ProgramFiles(x86)")
        ],
    },
}
HOW_TO_GET = {
    "linux": {
        "chromium": "sudo apt-get install chromium, or .venv/bin/playwright install chromium "
        "(needs internet access), or export CHROMIUM=/path/to/chrome",
        "firefox": "sudo apt-get install firefox-esr, or export FIREFOX=/path/to/firefox",
    },
    "darwin": {
        "chromium": "install Google Chrome (google.com/chrome) in /Applications, or "
        "export CHROMIUM=/path/to/chrome",
        "firefox": "install Firefox (firefox.com) in /Applications, or "
        "export FIREFOX=/path/to/firefox",
    },
    "win32": {
        "chromium": "install Google Chrome (google.com/chrome) or Edge, or "
        "set CHROMIUM=C:\\path\\to\\chrome.exe",
        "firefox": "install Firefox (firefox.com), or set FIREFOX=C:\\path\\to\\firefox.exe",
    },
}


def how_to_get(name, platform=None):
    platform = platform or sys.platform
    return HOW_TO_GET.get(platform, HOW_TO_GET["linux"])[name]


CHROMIUM_ARGS = [
    # A fake camera and microphone, granted without a prompt. Granting media also keeps host
    # candidates as real addresses instead of mDNS .local names.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # On a machine whose only interface is loopback, peers must be allowed to use it.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # A page the tests navigate away from is unloaded at once (its connections, sockets and
    # camera closed), never kept in the back-forward cache: tests/conftest.py's WarmContexts.
    "--disable-back-forward-cache",
]

# The same as CHROMIUM_ARGS, in Firefox's terms. Playwright's grant_permissions does not work
# over WebDriver BiDi, so permissions are granted by default instead.
FIREFOX_PREFS = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "permissions.default.camera": 1,
    "permissions.default.microphone": 1,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    # One content process per tab rather than per site and tab: about 15 % less CPU per page
    # on a 2-core machine, and nothing the tests check depends on it.
    "fission.autostart": False,
    # No back-forward cache, as --disable-back-forward-cache in Chromium.
    "browser.sessionhistory.max_total_viewers": 0,
}
# Without it, Firefox keeps asking Mozilla's settings server for updates: tests stay offline.
FIREFOX_ENV = {"MOZ_REMOTE_SETTINGS_DEVTOOLS": "1"}


class Missing(Exception):
    """A browser the tests were asked for is not on this machine."""

    def __init__(self, name):
        super().__init__(f"No {name} for the browser tests: {how_to_get(name)}.")


def selected():
    """The browsers BROWSERS names (comma-separated), or all of them."""
    names = [n.strip() for n in os.environ.get("BROWSERS", ",".join(NAMES)).split(",") if n.strip()]
    unknown = sorted(set(names) - set(NAMES))
    if unknown or not names:
        raise SystemExit(f"BROWSERS={os.environ['BROWSERS']}: use chromium, firefox or both.")
    return names


def playwright_chromium():
    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if os.path.isfile(path) else None


def system_binary(name):
    for binary in SYSTEM_BINARIES[name]:
        path = shutil.which(binary)
        if path:
            return path
    return None


def installed_binary(name, platform=None, environ=None):
    """Chrome, Edge or Firefox where its installer puts it on macOS and Windows, or None."""
    platform, environ = platform or sys.platform, os.environ if environ is None else environ
    for parts in INSTALLED[name].get(platform, []):
        if platform == "win32":
            if not environ.get(parts[0]):
                continue
            path = os.path.join(environ[parts[0]], *parts[1:])
        else:
            path = parts[0]
        if os.path.isfile(path):
            return path
    return None


def find(name, install=False):
    """The path of the browser `name` to use, or None when there is none.

    With `install`, Playwright's own Chromium is downloaded first when it is missing.
    """
    override = os.environ.get(name.upper())
    if override:
        if not os.path.isfile(override):
            raise SystemExit(f"{name.upper()}={override} is not a file.")
        return override
    if name == "firefox":
        return system_binary(name) or installed_binary(name)
    if install and not playwright_chromium():
        install_playwright_chromium()
    return playwright_chromium() or system_binary(name) or installed_binary(name)


def channel_for(name, channel):
    """Whether `--browser-channel CHANNEL` names a build of the browser `name`: Firefox's channels
    are moz-firefox, moz-firefox-beta and so on; every other channel is a Chromium's (chrome,
    msedge, chromium...)."""
    return channel is not None and channel.startswith("moz-") == (name == "firefox")


def launch_options(name, path, plugin_options=None):
    """Playwright launch() options for the browser `name` at `path`: fake media, loopback allowed,
    and pytest-playwright's own (`plugin_options`: --headed, --slowmo, --browser-channel). A
    channel of this browser replaces `path`: Playwright finds that build itself. Raises Missing
    when there is neither."""
    plugin_options = dict(plugin_options or {})
    channel = plugin_options.pop("channel", None)
    if channel_for(name, channel):
        options = {"channel": channel}
    elif path is None:
        raise Missing(name)
    else:
        options = {"executable_path": path}
    if name == "chromium":
        options["args"] = CHROMIUM_ARGS
    else:
        options.setdefault("channel", "moz-firefox")
        options["firefox_user_prefs"] = FIREFOX_PREFS
        options["env"] = {**os.environ, **FIREFOX_ENV}
    return {**options, **plugin_options}


def playwright_ffmpeg():
    """Where Playwright looks for the ffmpeg it records videos with (--video), on Linux."""
    package = Path(playwright.__file__).parent / "driver" / "package"
    listed = json.loads((package / "browsers.json").read_text())["browsers"]
    revision = next(b["revision"] for b in listed if b["name"] == "ffmpeg")
    home = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright"
    return Path(home) / f"ffmpeg-{revision}" / "ffmpeg-linux"


def video_recorder():
    """Whether Playwright can record videos: its own ffmpeg is a download from Playwright's
    servers, so where there is none a system ffmpeg (Debian's ffmpeg package) takes its place."""
    recorder = playwright_ffmpeg()
    if recorder.exists() or not sys.platform.startswith("linux"):
        return True
    system = shutil.which("ffmpeg")
    if system is None:
        return False
    recorder.parent.mkdir(parents=True, exist_ok=True)
    recorder.symlink_to(system)
    return True


NO_VIDEO_RECORDER = (
    "--video records with ffmpeg, and there is none: sudo apt-get install ffmpeg "
    "(or, with internet access, .venv/bin/playwright install ffmpeg)."
)


def install_playwright_chromium():
    """Tries Playwright's own download; without internet access it fails within seconds."""
    command = [sys.executable, "-m", "playwright", "install", "chromium"]
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(command, capture_output=True, timeout=300, check=False)


def main():
    install = "--install" in sys.argv[1:]
    found = {name: find(name, install=install) for name in selected()}
    for name, path in found.items():
        if path:
            print(f"Browser tests will use {path} for {name}.")
        else:
            print(f"No {name}: its tests will be skipped. To get one: {how_to_get(name)}.")
    if not any(found.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
