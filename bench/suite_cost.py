"""What one run of the whole test suite costs: wall time and browser memory.

Runs `python -m pytest` once and samples every 0.5 s, from /proc, the processes it started (only
those, not other programs' browsers): the summed RSS and PSS of its Chromium processes, their
number, and the RSS of everything it started; keeps the peaks.

    .venv/bin/python -m bench.suite_cost
    .venv/bin/python -m bench.suite_cost --pytest-args "tests/test_step1_local.py"

Writes bench/results/suite_cost.json.
"""

import argparse
import logging
import re
import shlex
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
        "output_tail": lines[-40:],
        "machine": info,
    }
    shared.save("suite_cost", result)
    print(f"wall {result['wall_s']} s, {result['outcome']}, peak {result['peak']}")
    return returncode


if __name__ == "__main__":
    sys.exit(main())
