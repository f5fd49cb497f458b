"""What step 12's lobby costs and how late it is (on demand). Python socket.io clients on
127.0.0.1 against step 12's server, one process and then two sharing their rooms through Redis:

- **latency**: a member joins a new room; the time from the join's acknowledgement to the list
  that shows the room reaching a page watching the lobby (on the other process, with Redis);
- **a burst**: --burst members join a room each, spread over --burst-seconds; how many lists the
  watcher gets meanwhile (pushes are gathered, a quarter of a second apart, so not one per join);
- **idle**: --watchers connections, first only connected and then watching the lobby, while
  nothing changes for --idle seconds each: the server process's CPU, and the lists sent (none).

    .venv/bin/python -m bench.lobby --joins 30 --burst 100 --watchers 200 --idle 10

Writes bench/results/lobby.json; `python -m bench.report` puts it in docs/benchmarks.md.
"""

import argparse
import logging
import tempfile
import time
import uuid
from pathlib import Path

from bench import shared
from tests.redis_server import RedisServer
from tests.server import Server
from tests.signaling_client import Member


def listed(event, room):
    name, listing = event
    return name == "lobby" and room in {entry["room"] for entry in listing["rooms"]}


def wait_for(watcher, predicate):
    """Reads the watcher's events until one satisfies `predicate`; returns (time, count read)."""
    count = 0
    while True:
        event = watcher.next_event(timeout=10)
        count += 1
        if predicate(event):
            return time.monotonic(), count


def latency(joiner_url, watcher_url, joins):
    watcher = Member(watcher_url)
    watcher.call("watch-lobby")
    delays = []
    for _ in range(joins):
        room = f"bench-{uuid.uuid4().hex[:10]}"
        member = Member(joiner_url)
        member.join(room, "Ann")
        joined = time.monotonic()
        seen, _ = wait_for(watcher, lambda event, room=room: listed(event, room))
        delays.append((seen - joined) * 1000)
        member.close()
        wait_for(watcher, lambda event, room=room: not listed(event, room))
    watcher.close()
    return delays


def burst(url, size, seconds):
    """`size` joins spread evenly over `seconds`, each opening a room of its own."""
    members = [Member(url) for _ in range(size)]
    watcher = Member(url)
    watcher.call("watch-lobby")
    prefix = f"burst-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    for number, member in enumerate(members):
        time.sleep(max(0, started + number * seconds / size - time.monotonic()))
        member.join(f"{prefix}-{number}", "M")
    joined = time.monotonic()
    _, pushes = wait_for(watcher, lambda event: event[1]["total"] >= size)
    for member in [*members, watcher]:
        member.close()
    return {
        "joins": size,
        "join_seconds": round(joined - started, 2),
        "pushes": pushes,
        "pushes_per_join": round(pushes / size, 3),
    }


def idle_cpu(server, seconds):
    time.sleep(1)  # the work of the last requests done
    cpu = shared.cpu_seconds(server.process.pid)
    time.sleep(seconds)
    return (shared.cpu_seconds(server.process.pid) - cpu) / seconds


def idle(server, watchers, seconds):
    """The server's CPU with `watchers` connections, first only connected, then watching."""
    pages = [Member(server.url) for _ in range(watchers)]
    connected = idle_cpu(server, seconds)
    for page in pages:
        page.call("watch-lobby")
    watching = idle_cpu(server, seconds)
    sent = sum(page.received.qsize() for page in pages)
    for page in pages:
        page.close()
    return {
        "watchers": watchers,
        "seconds": seconds,
        "cpu_connected": round(connected, 4),
        "cpu_watching": round(watching, 4),
        "lists": sent,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joins", type=int, default=30)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--burst-seconds", type=float, default=2)
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--idle", type=float, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = {"machine": shared.machine()}
    logs = Path(tempfile.mkdtemp(prefix="bench-lobby-"))
    # Every request of the bench comes from one address; the limit is per connection anyway.
    one = Server(12, logs)
    redis = RedisServer()
    pair = [Server(12, logs, REDIS_URL=redis.url) for _ in range(2)]
    try:
        for name, (joiner, watcher) in {
            "one": (one.url, one.url),
            "redis": (pair[0].url, pair[1].url),
        }.items():
            delays = latency(joiner, watcher, args.joins)
            data[f"latency_{name}"] = {
                **shared.summary(delays),
                "max": round(max(delays), 1),
                "min": round(min(delays), 1),
            }
            logging.info("%s: join to list %s ms", name, data[f"latency_{name}"])
        data["burst"] = burst(one.url, args.burst, args.burst_seconds)
        logging.info("burst: %s", data["burst"])
        data["idle"] = idle(one, args.watchers, args.idle)
        logging.info("idle: %s", data["idle"])
    finally:
        for server in [one, *pair]:
            server.stop()
        redis.stop()
    data["load_after"] = shared.load_average()
    shared.save("lobby", data)


if __name__ == "__main__":
    main()
