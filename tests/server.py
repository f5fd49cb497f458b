"""A step's server as a real process, started the way `make run` starts it."""

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 20
# With HTTPS=1 the server's certificate is self-signed: tests accept it.
SELF_SIGNED = ssl.create_default_context()
SELF_SIGNED.check_hostname = False
SELF_SIGNED.verify_mode = ssl.CERT_NONE


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `python -m common.run` process on a free port, as `make run` starts it."""

    def __init__(self, step, log_dir, **env):
        self.port = free_port()
        scheme = "https" if env.get("HTTPS") else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"step{step}-{self.port}.log"
        self.env = {**os.environ, "STEP": str(step), "PORT": str(self.port), "HOST": "127.0.0.1"}
        # The finished step, even where a learner has a work copy; `make check` sets PAGES=work.
        self.env.setdefault("PAGES", "solution")
        self.env.update({key: str(value) for key, value in env.items()})
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "common.run"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_until_ready()

    def wait_until_ready(self):
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1, context=SELF_SIGNED) as r:
                    if r.status == 200:
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
