"""Where one signaling process spends its time while it relays signals: py-spy samples our server
(one process, threading mode) during a throughput run of bench/signaling_load.js, and each
sample is filed under what its innermost frame was doing.

    .venv/bin/python -m bench.profile_signaling    # writes bench/results/signaling_profile.json
    .venv/bin/python -m bench.profile_signaling --pairs 16

py-spy (a dev dependency) reads the process from outside, so the server runs unmodified. Only
threads that are running or runnable are sampled (py-spy's default), so "waiting" below is time
spent acquiring a lock or the GIL, not idle threads.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.signaling_capacity import RESULTS, OurServer, machine, throughput

# (category, test on "function (file:line)" of the innermost frame), first match wins.
CATEGORIES = [
    ("locks and thread hand-offs", ("threading.py", "queue.py")),
    # simple-websocket's reader thread loop and send(): their own lines are sock.recv / sock.send
    ("socket reads and writes", ("Base._thread (", "Base.send (")),
    ("websocket framing (wsproto, simple-websocket)", ("wsproto/", "simple_websocket/")),
    ("this project's handlers (with waits on the rooms lock)", ("common/",)),
    ("JSON", ("json/",)),
    ("socket.io and Engine.IO packets", ("socketio/", "engineio/")),
    ("Flask and Werkzeug (a request context per event)", ("flask", "werkzeug/", "blinker/")),
]


def category(frame):
    for name, needles in CATEGORIES:
        if any(needle in frame for needle in needles):
            return name
    return "other"


def profile(pairs, seconds, rate):
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is missing: .venv/bin/pip install py-spy (a dev dependency)")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        server = OurServer(folder)
        raw = folder / "samples.txt"
        try:
            where = ["--pid", str(server.process.pid), "--duration", str(int(seconds) + 2)]
            how = ["--rate", str(rate), "--format", "raw", "--output", str(raw), "--nonblocking"]
            spy = subprocess.Popen(
                [py_spy, "record", *where, *how],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            result = throughput(server.url, server.pids, pairs, 32, seconds)
            spy.wait(timeout=60)
        finally:
            server.stop()
        return result, raw.read_text()


def leaves(samples):
    """Counts the innermost frames of py-spy's raw output (lines "a;b;c COUNT")."""
    counts = Counter()
    for line in samples.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            counts[stack.split(";")[-1]] += int(count)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    args = parser.parse_args(argv)
    result, samples = profile(args.pairs, args.seconds, args.rate)
    frames = leaves(samples)
    counts = Counter()
    for frame, count in frames.items():
        counts[category(frame)] += count
    total = sum(counts.values())
    report = {
        "machine": machine(),
        "pairs": args.pairs,
        "run": result,
        "sharePct": {name: round(100 * n / total, 1) for name, n in counts.most_common()},
        "topFramesPct": {frame: round(100 * n / total, 1) for frame, n in frames.most_common(12)},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "signaling_profile.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
