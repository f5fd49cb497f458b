"""What the tests cost the people who wait for them, through the very commands they type:

- a learner's `STEP=N make check`, for every step: how long until the first ✗ of the starting
  point is printed (`make work`'s copy), and how long the whole check takes once the finished
  main.js is in (medians of --check-runs, alternated, Chromium: the check's default);
- `STEP=N make test` for every step, in each browser alone (BROWSERS=chromium, then firefox);
- the whole `make test` in both browsers with the mixed pairs, and the peak memory of its browsers
  (sampled every 0.5 s from /proc: the processes it started, not other programs' browsers).

    .venv/bin/python -m bench.suite_cost                      # all three, about 30 minutes
    .venv/bin/python -m bench.suite_cost --parts checks --steps 3 4

Writes bench/results/suite_cost.json; `python -m bench.report` puts it in docs/benchmarks.md.
"""

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import shared
from common.run import available_steps

SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
FAILED_MARK = "  ✗ "


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


def make(target, env=None, **variables):
    command = ["make", "-s", "--no-print-directory", target]
    command += [f"{name}={value}" for name, value in variables.items()]
    return command, {**os.environ, **(env or {})}


def run_suite():
    """`make test`, both browsers: its outcome, wall time and the peaks of its processes."""
    command, env = make("test", {"BROWSERS": "chromium,firefox"})
    logging.info("make test (load %.1f)", shared.load_average())
    started = time.monotonic()
    pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    process = subprocess.Popen(command, cwd=shared.ROOT, env=env, **pipe)
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


def step_test(number, browser):
    """`STEP=N make test` in one browser: wall seconds and whether it passed."""
    command, env = make("test", {"BROWSERS": browser}, STEP=number)
    started = time.monotonic()
    result = subprocess.run(command, cwd=shared.ROOT, env=env, capture_output=True, check=False)
    wall = time.monotonic() - started
    logging.info(
        "STEP=%d make test in %s: %.1f s (load %.1f)", number, browser, wall, shared.load_average()
    )
    return {"wall_s": round(wall, 1), "returncode": result.returncode}


def first_failure(number, work_dir):
    """Seconds from `STEP=N make check` to its first ✗ line; the check is stopped there."""
    command, env = make("check", {"WORK_DIR": str(work_dir)}, STEP=number)
    started = time.monotonic()
    pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    process = subprocess.Popen(command, cwd=shared.ROOT, env=env, start_new_session=True, **pipe)
    seen = None
    for line in process.stdout:
        if line.startswith(FAILED_MARK):
            seen = time.monotonic() - started
            break
    os.killpg(process.pid, 15)
    process.wait()
    return seen


def full_check(number, work_dir):
    """Seconds of a whole `STEP=N make check`, and whether it passed."""
    command, env = make("check", {"WORK_DIR": str(work_dir)}, STEP=number)
    started = time.monotonic()
    result = subprocess.run(command, cwd=shared.ROOT, env=env, capture_output=True, check=False)
    return time.monotonic() - started, result.returncode


def checks(number, runs):
    """The first ✗ of the starting point and the whole check of the finished step, alternated."""
    folder = available_steps()[number]
    with tempfile.TemporaryDirectory(prefix="suite-cost-") as temporary:
        start_dir, done_dir = Path(temporary) / "start", Path(temporary) / "done"
        for work_dir in (start_dir, done_dir):
            command, env = make("work", {"WORK_DIR": str(work_dir)}, STEP=number)
            subprocess.run(command, cwd=shared.ROOT, env=env, capture_output=True, check=True)
        shutil.copy(shared.ROOT / folder / "main.js", done_dir / folder / "main.js")
        firsts, passes, failures = [], [], 0
        for _ in range(runs):
            firsts.append(first_failure(number, start_dir))
            seconds, returncode = full_check(number, done_dir)
            passes.append(seconds)
            failures += returncode != 0
    logging.info(
        "step %d: first ✗ after %s s, whole check %s s (load %.1f)",
        number,
        [None if s is None else round(s, 1) for s in firsts],
        [round(s, 1) for s in passes],
        shared.load_average(),
    )
    found = [s for s in firsts if s is not None]
    return {
        "first_failure_s": [None if s is None else round(s, 1) for s in firsts],
        "first_failure_median_s": round(statistics.median(found), 1) if found else None,
        "pass_s": [round(s, 1) for s in passes],
        "pass_median_s": round(statistics.median(passes), 1),
        "failed_checks_of_finished_step": failures,
        "measured": f"{time.strftime('%Y-%m-%d %H:%M')}, load {shared.load_average():.1f}",
    }


def stringified(figures):
    """Step numbers as JSON keeps them, so that new figures replace loaded ones."""
    return {str(number): value for number, value in figures.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["checks", "steps", "suite"])
    parser.add_argument("--steps", nargs="+", type=int, default=sorted(available_steps()))
    parser.add_argument("--check-runs", type=int, default=3, help="runs of each make check")
    parser.add_argument("--step-runs", type=int, default=1, help="runs of each STEP=N make test")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Parts not measured this time keep their last results, each with its own machine line.
    result = shared.load("suite_cost") or {}
    measure = {
        "checks": lambda: {n: checks(n, args.check_runs) for n in args.steps},
        "steps": lambda: {
            n: {
                browser: [step_test(n, browser) for _ in range(args.step_runs)]
                for browser in ("chromium", "firefox")
            }
            for n in args.steps
        },
        "suite": run_suite,
    }
    for part in args.parts:
        machine = shared.machine()
        figures = measure[part]()
        machine["load_end"] = shared.load_average()
        if part != "suite":  # the steps measured now take the place of their earlier figures
            figures = {**result.get(part, {}).get("figures", {}), **stringified(figures)}
            figures = dict(sorted(figures.items(), key=lambda item: int(item[0])))
        result[part] = {"machine": machine, "figures": figures}
    shared.save("suite_cost", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
