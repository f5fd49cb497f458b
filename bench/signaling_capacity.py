"""Signaling capacity: this project's Flask-SocketIO server against a minimal Node socket.io 4
server with the same contract (bench/reference/server.js), in the same run, on loopback.

1. Throughput: K sender/receiver pairs exchange acknowledged `signal`s, WINDOW in flight each
   (bench/signaling_load.js, a Node socket.io client, drives both servers): signals per second,
   ack latency p50/p99, server CPU (cores) and peak memory. Ours runs as one process, then as 1
   and 2 processes sharing their rooms through Redis (REDIS_URL), each pair's sender and
   receiver on different processes.
2. Idle connections: the memory one server process needs to hold 1k, 2k, 5k connections, and
   how many of ours it holds when it pings every 25 s instead of every 10 s.

    .venv/bin/python -m bench.signaling_capacity
    .venv/bin/python -m bench.signaling_capacity --pairs 4 --seconds 2 --idle 200 --slow-ping
    .venv/bin/python -m bench.signaling_capacity --pairs --processes    # idle connections only

Writes bench/results/signaling.json; a part that is not run keeps its previous results. Our
server runs with its rate limit lifted (SIGNAL_RATE, SIGNAL_BURST), as the reference has none;
order preservation (async_handlers=False), validation and the other limits stay on.
"""

import argparse
import json
import logging
import os
import subprocess
import tempfile
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from bench import shared
from tests.redis_server import RedisServer
from tests.server import Server, free_port

REFERENCE = shared.ROOT / "bench" / "reference"
LOAD = ["node", str(shared.ROOT / "bench" / "signaling_load.js")]
UNLIMITED = {"SIGNAL_RATE": "1e9", "SIGNAL_BURST": "1e9", "MAX_ROOMS": "100000"}
SLOW_PING = 25  # Engine.IO's default; ours is 10 s, so that a vanished member is noticed in 15 s


@contextmanager
def python_servers(logs, count=1, redis=False, **env):
    """`count` of our server processes, sharing their rooms through a Redis of their own when
    `redis`; yields their URLs (comma-separated) and their pids (Redis last)."""
    redis_server = RedisServer() if redis else None
    servers = []
    try:
        if redis_server:
            env["REDIS_URL"] = redis_server.url
        servers = [Server(2, logs, **UNLIMITED, **env) for _ in range(count)]
        pids = [server.process.pid for server in servers]
        if redis_server:
            pids.append(redis_server.process.pid)
        yield ",".join(server.url for server in servers), pids
    finally:
        for server in servers:
            server.stop()
        if redis_server:
            redis_server.stop()


@contextmanager
def node_server():
    """bench/reference/server.js on a free port (npm ci first when its modules are missing)."""
    if not (REFERENCE / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REFERENCE, check=True)
    port = free_port()
    env = {**os.environ, "PORT": str(port), "MAX_ROOM_SIZE": "2"}
    process = subprocess.Popen(
        ["node", "server.js"], cwd=REFERENCE, env=env, stdout=subprocess.PIPE
    )
    process.stdout.readline()  # "reference signaling server on PORT"
    try:
        yield f"http://127.0.0.1:{port}", [process.pid]
    finally:
        process.terminate()
        process.wait(timeout=10)


def throughput(url, pids, pairs, window, seconds):
    """One run of the load generator, with the CPU cores the servers used meanwhile and their
    peak memory (VmHWM: the most they ever held, summed; the runs go from light to heavy)."""
    cpu, started = sum(map(shared.cpu_seconds, pids)), time.monotonic()
    command = [*LOAD, url, str(pairs), str(window), str(seconds)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120)
    cores = (sum(map(shared.cpu_seconds, pids)) - cpu) / (time.monotonic() - started)
    peak = sum(shared.memory_mib(pid, "VmHWM") for pid in pids)
    return {
        **json.loads(out.stdout.splitlines()[-1]),
        "serverCores": cores,
        "serverPeakRssMiB": peak,
    }


def idle_memory(url, pid, count):
    before = shared.memory_mib(pid)
    client = subprocess.Popen(
        [*LOAD, "idle", url, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    started = time.monotonic()
    line = client.stdout.readline()  # {"idle": N} once connected; nothing if connections timed out
    seconds, after = time.monotonic() - started, shared.memory_mib(pid)
    client.stdin.close()
    client.wait(timeout=60)
    if not line:
        return {"requested": count, "failed": True}
    held = json.loads(line)["idle"]
    per_connection = (after - before) * 1024 / max(1, held)
    return {
        "connections": held,
        "connectSeconds": seconds,
        "rssMiB": after,
        "perConnectionKiB": per_connection,
    }


def throughputs(start, args):
    """Each count of pairs, one after the other, on one server (or set of servers)."""
    if not args.pairs:
        return []
    with start() as (url, pids):
        return [throughput(url, pids, n, args.window, args.seconds) for n in args.pairs]


def idles(start, counts):
    """Each count of idle connections on a fresh server."""
    runs = []
    for count in counts:
        with start() as (url, pids):
            runs.append(idle_memory(url, pids[0], count))
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, nargs="*", default=[1, 4, 16])
    parser.add_argument("--window", type=int, default=32, help="signals in flight per sender")
    parser.add_argument("--seconds", type=float, default=10, help="per throughput run")
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2], help="with Redis")
    parser.add_argument("--idle", type=int, nargs="*", default=[1000, 2000, 5000])
    slow = f"idle connections to ours with pings every {SLOW_PING} s"
    parser.add_argument("--slow-ping", type=int, nargs="*", default=[3000, 5000], help=slow)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results, info = shared.load("signaling") or {}, shared.machine()
    with tempfile.TemporaryDirectory() as folder:  # (label, runs) for each configuration
        ours = partial(python_servers, Path(folder))
        configs = [("Python, 1 process", throughputs(ours, args))]
        for n in args.processes:
            runs = throughputs(partial(ours, n, redis=True), args)
            configs.append((f"Python, {n} process{'es' * (n > 1)} + Redis", runs))
        configs.append(("Node reference", throughputs(node_server, args)))
        idle = [("Python, pings every 10 s", idles(ours, args.idle))]
        slowly = partial(ours, PING_INTERVAL=SLOW_PING)
        idle.append((f"Python, pings every {SLOW_PING} s", idles(slowly, args.slow_ping)))
        idle.append(("Node reference", idles(node_server, args.idle)))
    info["load_end"] = shared.load_average()
    if args.pairs:
        results["throughput"] = {"machine": info, "window": args.window, "configs": configs}
    if args.idle or args.slow_ping:
        results["idle"] = {"machine": info, "configs": idle}
    shared.save("signaling", results)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
