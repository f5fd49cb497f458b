"""What one run of the whole test suite costs (wall time, browser memory), and what one step's
tests cost, as `STEP=N make test` runs them (wall time, medians of --step-runs runs).

Runs `python -m pytest` once and samples every 0.5 s, from /proc, the processes it started (only
those, not other programs' browsers): the summed RSS and PSS of its Chromium processes, their
number, and the RSS of everything it started; keeps the peaks.

    .venv/bin/python -m bench.suite_cost
    .venv/bin/python -m bench.suite_cost --pytest-args "tests/test_step1_local.py" --step-runs 0

Writes bench/results/suite_cost.json.
"""

import argparse
import logging
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time

from bench import shared

SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def sample(root, peak, done):
    """Keeps in `peak` the largest figures seen, every 0.5 s until `done` is set."""
    while not done.wait(0.5):
        browsers, everything = shared.browser_pids(root), shared.descendants(root)
        now = {
            "browser_rss_mib": sum(shared.memory_mib(pid) for pid in browsers),
            "browser_pss_mib": sum(shared.memory_mib(pid, "Pss") for pid in browsers),
            "browser_processes": len(browsers),
            "all_rss_mib": sum(shared.memory_mib(pid) for pid in everything),
        }
        peak.update({key: max(value, peak.get(key, 0)) for key, value in now.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pytest-args", default="", help="extra arguments for pytest")
    parser.add_argument("--step-runs", type=int, default=3, help="runs of each step's tests")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = [sys.executable, "-m", "pytest", "-q", *shlex.split(args.pytest_args)]
    info, started = shared.machine(), time.monotonic()
    logging.info("running %s (load %.1f)", " ".join(command), info["load"])
    process = subprocess.Popen(
        command, cwd=shared.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak, done = {}, threading.Event()
    sampler = threading.Thread(target=sample, args=(process.pid, peak, done), daemon=True)
    sampler.start()
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    returncode, wall = process.wait(), time.monotonic() - started
    done.set()
    sampler.join()
    per_step = {n: step_time(n, args.step_runs) for n in range(1, 7) if args.step_runs}
    info["load_end"] = shared.load_average()
    summary = next(
        (line for line in reversed(lines) if SUMMARY.search(line) and " in " in line), ""
    )
    result = {
        "command": command,
        "returncode": returncode,
        "outcome": {word: int(count) for count, word in SUMMARY.findall(summary)},
        "wall_s": round(wall, 1),
        "peak": {key: round(value, 1) for key, value in peak.items()},
        "per_step": per_step,
        "output_tail": lines[-40:],
        "machine": info,
    }
    shared.save("suite_cost", result)
    print(f"wall {result['wall_s']} s, {result['outcome']}, peak {result['peak']}")
    return returncode


def step_time(number, runs):
    """Median wall seconds of `pytest tests/test_stepN_*.py`, what `STEP=N make test` runs."""
    tests = sorted(str(p) for p in (shared.ROOT / "tests").glob(f"test_step{number}_*.py"))
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", *tests],
            cwd=shared.ROOT,
            check=True,
            capture_output=True,
        )
        times.append(time.monotonic() - started)
    logging.info(
        "step %d: %s s (load %.1f)", number, [round(t, 1) for t in times], shared.load_average()
    )
    return {"median_s": round(statistics.median(times), 1), "runs": len(times)}


if __name__ == "__main__":
    sys.exit(main())
