"""socket.io's browser client is kept in the repository (common/static/vendor/socket.io/), so
that running a step needs no Node. These tests keep it honest: it is the release package-lock.json
pins, byte for byte the npm package's file where npm is at hand (`make test` runs `npm ci` then,
and with npm on PATH a missing node_modules fails the test instead of skipping it), the pages get it
from the server, and the server's python-socketio speaks its protocol."""

import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "common" / "static" / "vendor" / "socket.io"
NPM_DIST = ROOT / "node_modules" / "socket.io-client" / "dist"
FILES = ("socket.io.min.js", "socket.io.min.js.map")


def pinned_version():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    return lock["packages"]["node_modules/socket.io-client"]["version"]


def test_the_vendored_client_is_the_pinned_release_with_its_licence():
    banner = (VENDORED / "socket.io.min.js").read_text()[:200]
    assert f"Socket.IO v{pinned_version()}\n" in banner
    assert f"**{pinned_version()}**" in (VENDORED / "README.md").read_text()
    assert "MIT License" in (VENDORED / "LICENSE").read_text()


def test_the_vendored_client_is_the_npm_package_byte_for_byte():
    if not NPM_DIST.is_dir():
        if shutil.which("npm"):
            pytest.fail("npm is here but node_modules is not: `make test` runs `npm ci` first")
        pytest.skip("no npm here: nothing to compare the pinned client with")
    for name in FILES:
        assert (VENDORED / name).read_bytes() == (NPM_DIST / name).read_bytes(), name


def test_the_pages_load_it_from_the_server_and_it_speaks_the_servers_protocol(start_server):
    server = start_server(2)
    with urllib.request.urlopen(f"{server.url}/vendor/socket.io/socket.io.min.js") as response:
        served = response.read()
    assert served == (VENDORED / "socket.io.min.js").read_bytes()
    assert (
        b'src="/vendor/socket.io/socket.io.min.js"'
        in (ROOT / "step2_two_users/index.html").read_bytes()
    )

    # The client opens Engine.IO connections with ?EIO=4; python-engineio's server answers that
    # version with a session, and refuses another (so the check can fail).
    version = re.search(r"\.EIO=(\d+)", served.decode())[1]
    handshake = f"{server.url}/socket.io/?EIO={version}&transport=polling"
    with urllib.request.urlopen(handshake) as response:
        opened = response.read().decode()
    assert opened.startswith("0{") and '"sid"' in opened
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{server.url}/socket.io/?EIO={int(version) - 1}&transport=polling")
