"""What the whole test suite costs (wall time, browser memory) in Chromium alone and in both
browsers, and what one step's tests cost as `STEP=N make test` runs them (medians of --step-runs).

Runs pytest with BROWSERS=chromium, then with both, --suite-runs times, alternated; samples every
0.5 s from /proc the processes it started (not other programs' browsers) and keeps the peaks: the
summed RSS and PSS of its browser processes, their number, the RSS of everything it started.

    .venv/bin/python -m bench.suite_cost
    .venv/bin/python -m bench.suite_cost --pytest-args "tests/test_step1_local.py" --step-runs 0

Writes bench/results/suite_cost.json.
"""

import argparse
import logging
import os
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
    parser.add_argument("--suite-runs", type=int, default=1, help="runs of each suite")
    parser.add_argument("--step-runs", type=int, default=3, help="runs of each step's tests")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = [sys.executable, "-m", "pytest", "-q", *shlex.split(args.pytest_args)]
    info, runs = shared.machine(), {"chromium": [], "chromium,firefox": []}
    for browsers, results in [*runs.items()] * args.suite_runs:
        results.append(run_suite(command, browsers))
    per_step = {n: step_time(n, args.step_runs) for n in range(1, 7) if args.step_runs}
    info["load_end"] = shared.load_average()
    result = {"command": command, "suites": runs, "per_step": per_step, "machine": info}
    shared.save("suite_cost", result)
    return max(run["returncode"] for results in runs.values() for run in results)


def run_suite(command, browsers):
    """One run of the suite in `browsers` (BROWSERS): its outcome, wall time and peaks."""
    logging.info("BROWSERS=%s %s (load %.1f)", browsers, " ".join(command), shared.load_average())
    started = time.monotonic()
    env, pipe = {**os.environ, "BROWSERS": browsers}, {"stdout": subprocess.PIPE, "text": True}
    process = subprocess.Popen(command, cwd=shared.ROOT, env=env, stderr=subprocess.STDOUT, **pipe)
    peak, done = {}, threading.Event()
    sampler = threading.Thread(target=sample, args=(process.pid, peak, done), daemon=True)
    sampler.start()
    lines = [line.rstrip("\n") for line in process.stdout]
    returncode, wall = process.wait(), time.monotonic() - started
    done.set()
    sampler.join()
    summary = next((ln for ln in reversed(lines) if SUMMARY.search(ln) and " in " in ln), "")
    logging.info("%s in %.0f s", summary, wall)
    return {
        "returncode": returncode,
        "outcome": {word: int(count) for count, word in SUMMARY.findall(summary)},
        "wall_s": round(wall, 1),
        "peak": {key: round(value, 1) for key, value in peak.items()},
        "output_tail": lines[-40:],
        "load": shared.load_average(),
    }


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
