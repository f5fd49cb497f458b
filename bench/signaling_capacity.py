"""Signaling capacity: this project's Flask-SocketIO server against a minimal Node socket.io 4
server with the same contract (bench/reference/server.js), in the same run, on loopback.

1. Throughput: K sender/receiver pairs exchange acknowledged `signal`s with WINDOW in flight each
   (bench/signaling_load.js, a Node socket.io client, drives both servers): signals per second,
   ack latency p50/p99, server CPU (cores) and memory. Ours runs as one process, then as
   --processes processes sharing their rooms through Redis (REDIS_URL), each pair's sender and
   receiver on different processes.
2. Idle connections: how much memory one server process needs to hold 1k, 2k, 5k connections,
   and (ours) how many it holds when it pings every 25 s instead of every 10 s.

    .venv/bin/python -m bench.signaling_capacity            # writes bench/results/signaling.json
    .venv/bin/python -m bench.signaling_capacity --quick    # a short run to try it

Our server runs with its rate limit lifted (SIGNAL_RATE/SIGNAL_BURST), as the reference has none;
order preservation (async_handlers=False), validation and the other limits stay on.
"""

import argparse
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

from bench.browser_common import cpu_seconds
from bench.soak import rss_mib
from tests.redis_server import RedisServer
from tests.server import ROOT, Server, free_port

RESULTS = ROOT / "bench" / "results"
REFERENCE = ROOT / "bench" / "reference"
LOAD = ["node", str(ROOT / "bench" / "signaling_load.js")]
UNLIMITED = {"SIGNAL_RATE": "1e9", "SIGNAL_BURST": "1e9", "MAX_ROOMS": "100000"}
# Engine.IO's default; ours is 10 s, so that a vanished member is noticed within 15 s.
SLOW_PING = 25


class NodeReference:
    """bench/reference/server.js on a free port (npm ci first when its modules are missing)."""

    def __init__(self):
        if not (REFERENCE / "node_modules").is_dir():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REFERENCE, check=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PORT": str(self.port), "MAX_ROOM_SIZE": "2"}
        self.process = subprocess.Popen(
            ["node", "server.js"], cwd=REFERENCE, env=env, stdout=subprocess.PIPE, text=True
        )
        self.process.stdout.readline()  # "reference signaling server on PORT"
        self.pids = [self.process.pid]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Sampler:
    """Samples the RSS of the server's processes while a block runs; reports the CPU cores they
    used and their peak RSS, summed."""

    def __init__(self, pids):
        self.pids, self.peak, self.done = pids, 0.0, threading.Event()

    def cpu(self):
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss(self):
        return sum(rss_mib(pid) for pid in self.pids)

    def __enter__(self):
        self.cpu_before, self.wall = self.cpu(), time.monotonic()
        threading.Thread(target=self.sample, daemon=True).start()
        return self

    def sample(self):
        while not self.done.wait(0.2):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc):
        self.done.set()
        self.cores = (self.cpu() - self.cpu_before) / (time.monotonic() - self.wall)
        self.peak = max(self.peak, self.rss())


def throughput(url, pids, pairs, window, seconds):
    with Sampler(pids) as sampler:
        done = subprocess.run(
            [*LOAD, url, str(pairs), str(window), str(seconds)],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 120,
        )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "serverCores": sampler.cores, "serverPeakRssMiB": sampler.peak}


def idle_memory(url, pid, count):
    before = rss_mib(pid)
    client = subprocess.Popen(
        [*LOAD, "idle", url, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    started = time.monotonic()
    line = client.stdout.readline()
    if not line:  # the client gave up: connections timed out
        client.wait(timeout=60)
        return {"connections": 0, "requested": count, "failed": True}
    ready = json.loads(line)
    seconds = time.monotonic() - started
    after = rss_mib(pid)
    client.stdin.close()
    client.wait(timeout=60)
    return {
        "connections": ready["idle"],
        "connectSeconds": seconds,
        "rssBeforeMiB": before,
        "rssMiB": after,
        "perConnectionKiB": (after - before) * 1024 / max(1, ready["idle"]),
    }


def machine():
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "model": model,
        "python": platform.python_version(),
        "node": subprocess.run(
            ["node", "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "loadAverage": os.getloadavg(),
    }


class OurServer(Server):
    def __init__(self, log_dir, **env):
        super().__init__(2, log_dir, **UNLIMITED, **env)
        self.pids = [self.process.pid]


class SharedServers:
    """Several of our server processes sharing their rooms through Redis (REDIS_URL); `url`
    lists them all, for the load generator to spread each pair over two of them."""

    def __init__(self, log_dir, count):
        self.redis = RedisServer()
        self.servers = [OurServer(log_dir, REDIS_URL=self.redis.url) for _ in range(count)]
        self.url = ",".join(server.url for server in self.servers)
        self.pids = [self.redis.process.pid, *(server.process.pid for server in self.servers)]

    def stop(self):
        for server in self.servers:
            server.stop()
        self.redis.stop()


def measure(start, args, pairs, idle_counts):
    """Throughput runs with each count of pairs on one server, then each idle count on a fresh
    one."""
    runs = []
    if pairs:
        server = start()
        try:
            runs = [
                throughput(server.url, server.pids, n, args.window, args.seconds) for n in pairs
            ]
        finally:
            server.stop()
    idle = []
    for count in idle_counts:
        server = start()
        try:
            idle.append(idle_memory(server.url, server.pids[0], count))
        finally:
            server.stop()
    return {"throughput": runs, "idle": idle}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=int, nargs="*", default=[1000, 2000, 5000])
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[1, 2],
        help="counts of Python processes sharing rooms through Redis (none: skip)",
    )
    parser.add_argument(
        "--idle-slow-ping",
        type=int,
        nargs="*",
        default=[3000, 5000],
        help=f"idle counts for our server with PING_INTERVAL={SLOW_PING} instead of 10 s",
    )
    parser.add_argument("--quick", action="store_true", help="2 s runs, 200 idle connections")
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.seconds, args.idle, args.idle_slow_ping = [4], 2, [200], []
    results = {"machine": machine(), "window": args.window, "slowPing": SLOW_PING}
    with tempfile.TemporaryDirectory() as logs:
        logs = Path(logs)
        results["python"] = measure(partial(OurServer, logs), args, args.pairs, args.idle)
        slow_ping = partial(OurServer, logs, PING_INTERVAL=SLOW_PING)
        results["pythonSlowPing"] = measure(slow_ping, args, [], args.idle_slow_ping)
        results["pythonShared"] = [
            {"processes": n, **measure(partial(SharedServers, logs, n), args, args.pairs, [])}
            for n in args.processes
        ]
    results["node"] = measure(NodeReference, args, args.pairs, args.idle)
    results["machine"]["loadAverageAfter"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "signaling.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
