"""Finds the Chromium the browser tests drive.

In order: the CHROMIUM environment variable; Playwright's own Chromium; a system Chromium.
`python -m tests.chromium --install` (run by `make test`) also tries `playwright install
chromium` first, and says what to do when no browser can be had.
"""

import contextlib
import os
import shutil
import subprocess
import sys

from playwright.sync_api import sync_playwright

SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET_ONE = """No Chromium found for the browser tests. Any one of these will do:
  - Debian/Ubuntu:   sudo apt-get install chromium
  - Playwright's:    .venv/bin/playwright install chromium   (needs internet access)
  - your own build:  export CHROMIUM=/path/to/chrome"""


def playwright_chromium():
    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if os.path.isfile(path) else None


def system_chromium():
    for name in SYSTEM_BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def find_chromium(install=False):
    """The path of the Chromium to use, or None when there is none.

    With `install`, Playwright's own browser is downloaded first when it is missing.
    """
    override = os.environ.get("CHROMIUM")
    if override:
        if not os.path.isfile(override):
            raise SystemExit(f"CHROMIUM={override} is not a file.")
        return override
    if install and not playwright_chromium():
        install_playwright_chromium()
    return playwright_chromium() or system_chromium()


def install_playwright_chromium():
    """Tries Playwright's own download; without internet access it fails within seconds."""
    command = [sys.executable, "-m", "playwright", "install", "chromium"]
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(command, capture_output=True, timeout=300, check=False)


def main():
    path = find_chromium(install="--install" in sys.argv[1:])
    if path is None:
        print(HOW_TO_GET_ONE, file=sys.stderr)
        sys.exit(1)
    print(f"Browser tests will use {path}")


if __name__ == "__main__":
    main()
