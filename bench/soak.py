"""Soak test of the signaling server, on loopback only.

Hundreds of socket.io clients in dozens of rooms join, exchange acknowledged signals and leave, in
several rounds. Each signal names its intended target and carries a sequence number, so the run can
check that nothing was lost, nothing reached the wrong member, and each sender's signals kept their
order. After each round the server's /stats must come back to zero rooms and members, and its
resident memory is recorded to show whether it stays flat.

    .venv/bin/python -m bench.soak                      # the full run, about a minute
    .venv/bin/python -m bench.soak --clients 40 --rooms 8 --rounds 2   # a short one

The short version runs in `make test` (tests/test_soak.py).
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import socketio

from tests.server import Server

TIMEOUT = 10
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Client:
    index: int
    room: str
    sio: socketio.Client = field(default_factory=lambda: socketio.Client(reconnection=False))
    id: str = ""
    received: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_signal(self, message):
        with self.lock:
            self.received.append(message)


@dataclass
class RoundResult:
    number: int
    errors: list
    signals_sent: int
    signals_received: int
    misdelivered: int
    out_of_order: int
    lost: int
    ack_ms: list
    rss_mib: float
    seconds: float
    stats_after: dict


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_stats(url):
    with urllib.request.urlopen(url + "/stats", timeout=TIMEOUT) as response:
        return json.load(response)


def timed_call(client, event, data, ack_ms):
    started = time.perf_counter()
    ack = client.sio.call(event, data, timeout=TIMEOUT)
    ack_ms.append((time.perf_counter() - started) * 1000)
    return ack


def connect_and_join(client, url, errors, ack_ms):
    client.sio.on("signal", client.on_signal)
    client.sio.connect(url, transports=["websocket"], wait_timeout=TIMEOUT)
    ack = timed_call(client, "join", {"room": client.room, "name": f"m{client.index}"}, ack_ms)
    if ack.get("ok"):
        client.id = ack["id"]
    else:
        errors.append(f"join {client.index}: {ack}")


def send_signals(client, peers, count, errors, ack_ms):
    for seq in range(count):
        target = peers[seq % len(peers)]
        text = f"soak {client.id} {seq} {target.id}"
        data = {"to": target.id, "data": {"candidate": {"candidate": text, "sdpMid": "0"}}}
        ack = timed_call(client, "signal", data, ack_ms)
        if not ack.get("ok"):
            errors.append(f"signal {client.index}#{seq}: {ack}")


def depart(client, errors):
    if client.index % 2 == 0:  # half leave politely, half just disconnect
        ack = client.sio.call("leave", timeout=TIMEOUT)
        if ack != {"ok": True}:
            errors.append(f"leave {client.index}: {ack}")
    client.sio.disconnect()


def check_delivery(clients, expected):
    """(received, misdelivered, out of order, lost) over all clients."""
    received = misdelivered = out_of_order = 0
    for client in clients:
        last_seq = {}
        for message in client.received:
            _, sender, seq, target = message["data"]["candidate"]["candidate"].split()
            received += 1
            if target != client.id or sender != message["from"]:
                misdelivered += 1
            if int(seq) <= last_seq.get(sender, -1):
                out_of_order += 1
            last_seq[sender] = int(seq)
    return received, misdelivered, out_of_order, expected - received


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)  # polling interval
    return condition()


def run_round(number, server, args, pool):
    started = time.monotonic()
    errors, ack_ms = [], []
    clients = [Client(i, f"soak-{i % args.rooms}") for i in range(args.clients)]
    list(pool.map(lambda c: connect_and_join(c, server.url, errors, ack_ms), clients))
    by_room = {}
    for client in clients:
        by_room.setdefault(client.room, []).append(client)

    def send(client):
        peers = [c for c in by_room[client.room] if c is not client]
        send_signals(client, peers, args.signals, errors, ack_ms)

    list(pool.map(send, clients))
    expected = len(clients) * args.signals
    wait_until(lambda: sum(len(c.received) for c in clients) >= expected, TIMEOUT)
    received, misdelivered, out_of_order, lost = check_delivery(clients, expected)
    list(pool.map(lambda c: depart(c, errors), clients))
    empty = {"rooms": 0, "members": 0}
    wait_until(lambda: server_stats(server.url) == empty, TIMEOUT)
    return RoundResult(
        number,
        errors,
        expected,
        received,
        misdelivered,
        out_of_order,
        lost,
        ack_ms,
        rss_mib(server.process.pid),
        time.monotonic() - started,
        server_stats(server.url),
    )


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def report(results, args):
    lines = [
        f"Soak: {args.clients} clients in {args.rooms} rooms, {args.signals} signals each, "
        f"{args.rounds} rounds",
        "",
        "| round | seconds | signals sent | received | lost | misdelivered | out of order "
        "| errors | ack p50 ms | ack p99 ms | ack max ms | server RSS MiB | after round |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.number} | {r.seconds:.1f} | {r.signals_sent} | {r.signals_received} | {r.lost} "
            f"| {r.misdelivered} | {r.out_of_order} | {len(r.errors)} "
            f"| {statistics.median(r.ack_ms):.1f} | {percentile(r.ack_ms, 0.99):.1f} "
            f"| {max(r.ack_ms):.1f} | {r.rss_mib:.1f} | {r.stats_after} |"
        )
    return "\n".join(lines)


def soak(clients=300, rooms=30, rounds=6, signals=20):
    """Runs the soak against a fresh signaling server; returns the per-round results."""
    args = argparse.Namespace(clients=clients, rooms=rooms, rounds=rounds, signals=signals)
    size = -(-clients // rooms)  # members per room, rounded up
    with tempfile.TemporaryDirectory() as logs:
        server = Server(2, Path(logs), MAX_ROOM_SIZE=size, MAX_ROOMS=rooms)
        try:
            with ThreadPoolExecutor(max_workers=32) as pool:
                return [run_round(n + 1, server, args, pool) for n in range(rounds)], args
        finally:
            server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--rooms", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--signals", type=int, default=20, help="signals each client sends")
    args = parser.parse_args(argv)
    results, args = soak(args.clients, args.rooms, args.rounds, args.signals)
    table = report(results, args)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.md").write_text(table + "\n")
    failed = any(r.errors or r.lost or r.misdelivered or r.out_of_order for r in results)
    for r in results:
        for error in r.errors[:5]:
            print(f"round {r.number}: {error}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
