"""A throwaway redis-server on a free loopback port, for the tests and benchmarks of several
signaling processes sharing their rooms (REDIS_URL, common/shared_rooms.py)."""

import shutil
import socket
import subprocess
import time

from tests.server import free_port

HOW_TO_GET_ONE = "redis-server is not installed: apt-get install redis-server"


class RedisServer:
    def __init__(self, timeout=10):
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(HOW_TO_GET_ONE)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        in_memory_only = ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", *in_memory_only],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self.wait_until_listening(timeout)

    def wait_until_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                pass
            try:  # a moment for the port to open, noticing an early exit
                self.process.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pass
        self.stop()
        raise RuntimeError(f"redis-server did not listen on port {self.port}")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
