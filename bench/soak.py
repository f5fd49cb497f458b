"""Soak test of the signaling server, on loopback only.

Hundreds of socket.io clients in dozens of rooms join, exchange acknowledged signals (each names
its target and carries a sequence number) and leave (half with `leave`, half by disconnecting),
round after round: nothing may be lost, misdelivered or reordered, and the server's /stats must
come back to zero; its resident memory shows whether it stays flat.

    .venv/bin/python -m bench.soak                                     # about three minutes
    .venv/bin/python -m bench.soak --clients 40 --rooms 8 --rounds 2   # a short one

Writes bench/results/soak.json. A short version runs in `make test` (tests/test_soak.py).
"""

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import socketio

from bench import shared
from tests.server import Server

TIMEOUT = 10


@dataclass
class Round:
    number: int
    errors: list
    signals_sent: int
    signals_received: int
    misdelivered: int
    out_of_order: int
    lost: int
    ack_ms: list
    ack_p50: float
    ack_p99: float
    ack_max: float
    rss_mib: float
    seconds: float
    stats_after: dict


class Client:
    """One member: its connection, its id once joined, and the signals it received."""

    def __init__(self, index, room, errors, ack_ms):
        self.index, self.room, self.id, self.received = index, room, "", []
        self.errors, self.ack_ms = errors, ack_ms
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("signal", self.received.append)

    def call(self, event, data=None):
        started = time.perf_counter()
        ack = self.sio.call(event, data, timeout=TIMEOUT)
        self.ack_ms.append((time.perf_counter() - started) * 1000)
        if not ack.get("ok"):
            self.errors.append(f"{event} {self.index}: {ack}")
        return ack

    def join(self, url):
        self.sio.connect(url, transports=["websocket"], wait_timeout=TIMEOUT)
        self.id = self.call("join", {"room": self.room, "name": f"m{self.index}"}).get("id", "")

    def send(self, peers, count):
        for seq in range(count):
            target = peers[seq % len(peers)]
            text = f"soak {self.id} {seq} {target.id}"
            candidate = {"candidate": text, "sdpMid": "0"}
            self.call("signal", {"to": target.id, "data": {"candidate": candidate}})

    def depart(self):
        if self.index % 2 == 0:  # half leave politely, half just disconnect
            self.call("leave")
        self.sio.disconnect()


def check_delivery(clients):
    """(received, misdelivered, out of order) over all clients."""
    received = misdelivered = out_of_order = 0
    for client in clients:
        last_seq = {}
        for message in client.received:
            _, sender, seq, target = message["data"]["candidate"]["candidate"].split()
            received += 1
            misdelivered += target != client.id or sender != message["from"]
            out_of_order += int(seq) <= last_seq.get(sender, -1)
            last_seq[sender] = int(seq)
    return received, misdelivered, out_of_order


def server_stats(url):
    with urllib.request.urlopen(url + "/stats", timeout=TIMEOUT) as response:
        return json.load(response)


def wait_until(condition, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def run_round(number, server, clients, rooms, signals, pool):
    started, errors, ack_ms = time.monotonic(), [], []
    members = [Client(i, f"soak-{i % rooms}", errors, ack_ms) for i in range(clients)]
    list(pool.map(lambda client: client.join(server.url), members))
    peers = {c: [p for p in members if p.room == c.room and p is not c] for c in members}
    list(pool.map(lambda client: client.send(peers[client], signals), members))
    sent = clients * signals
    wait_until(lambda: sum(len(client.received) for client in members) >= sent)
    received, misdelivered, out_of_order = check_delivery(members)
    list(pool.map(Client.depart, members))
    wait_until(lambda: server_stats(server.url) == {"rooms": 0, "members": 0})
    rss, seconds = shared.memory_mib(server.process.pid), time.monotonic() - started
    counts = (sent, received, misdelivered, out_of_order, sent - received)
    ack = sorted(ack_ms)
    acks = (ack_ms, statistics.median(ack), ack[int(0.99 * len(ack))], ack[-1])
    return Round(number, errors, *counts, *acks, rss, seconds, server_stats(server.url))


def soak(clients=300, rooms=30, rounds=6, signals=20):
    """Runs the soak against a fresh signaling server; returns the rounds and the settings."""
    settings = {"clients": clients, "rooms": rooms, "rounds": rounds, "signals": signals}
    with tempfile.TemporaryDirectory() as logs:
        server = Server(2, Path(logs), MAX_ROOM_SIZE=-(-clients // rooms), MAX_ROOMS=rooms)
        try:
            with ThreadPoolExecutor(max_workers=32) as pool:
                args = (server, clients, rooms, signals, pool)
                return [run_round(n, *args) for n in range(1, rounds + 1)], settings
        finally:
            server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--rooms", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--signals", type=int, default=20, help="signals each client sends")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    info = shared.machine()
    results, settings = soak(args.clients, args.rooms, args.rounds, args.signals)
    info["load_end"] = shared.load_average()
    rounds = [{**asdict(r), "ack_ms": None, "error_count": len(r.errors)} for r in results]
    for r in results:
        logging.info("round %d: %d of %d received", r.number, r.signals_received, r.signals_sent)
    shared.save("soak", {"machine": info, **settings, "per_round": rounds})
    sys.exit(any(r.errors or r.lost or r.misdelivered or r.out_of_order for r in results))


if __name__ == "__main__":
    main()
