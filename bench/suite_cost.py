"""What one run of the whole test suite costs on this machine: wall time and browser memory.

Runs the suite once (`.venv/bin/python -m pytest`, as `make test` does, or `make test` itself with
--make) and samples every 0.5 s, from /proc, the processes it started: the summed resident memory
(RSS) of its Chromium processes, their proportional share (PSS, which does not count shared pages
twice), their number, and the RSS of everything it started. Only the suite's own descendants are
counted, so browsers of other programs on the machine do not inflate the numbers.

    .venv/bin/python -m bench.suite_cost
    .venv/bin/python -m bench.suite_cost --pytest-args "tests/test_step4_group_chat.py"

Writes bench/results/suite_cost.json; `machine.cpu` says how busy the machine was and how much of
that was the suite (the rest was other programs, which slow the suite down).
"""

import argparse
import os
import re
import resource
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.browser_common import (
    ROOT,
    cpu_share,
    cpu_snapshot,
    descendants,
    load_average,
    machine,
    write_results,
)

BROWSER_NAMES = ("chrom", "headless_shell")
TICKS = os.sysconf("SC_CLK_TCK")
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def memory_kib(pid, field):
    """VmRSS from status, or Pss from smaps_rollup, in KiB; 0 once the process is gone."""
    source = "status" if field == "VmRSS" else "smaps_rollup"
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def is_browser(pid):
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return any(part in name for part in BROWSER_NAMES)


class Sampler(threading.Thread):
    def __init__(self, root, interval):
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.started = time.monotonic()
        self.samples = []
        self.done = threading.Event()
        self.cpu = {}  # (pid, start time) -> utime + stime seen last, in clock ticks

    def count_cpu(self, pid):
        """The suite's CPU time, from its live processes: a process that exits takes its CPU
        time to its parent only if the parent waits for it, which browsers do not always do."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return
        self.cpu[(pid, stat[19])] = int(stat[11]) + int(stat[12])

    def cpu_seconds(self):
        return sum(self.cpu.values()) / TICKS

    def run(self):
        while not self.done.wait(self.interval):
            self.samples.append(self.sample())

    def sample(self):
        pids = descendants(self.root)
        for pid in {self.root} | pids:
            self.count_cpu(pid)
        browsers = [pid for pid in pids if is_browser(pid)]
        return {
            "t": round(time.monotonic() - self.started, 1),
            "browser_rss_mib": round(sum(memory_kib(p, "VmRSS") for p in browsers) / 1024, 1),
            "browser_pss_mib": round(sum(memory_kib(p, "Pss") for p in browsers) / 1024, 1),
            "browser_processes": len(browsers),
            "all_rss_mib": round(sum(memory_kib(p, "VmRSS") for p in pids) / 1024, 1),
        }


def peak(samples, field):
    best = max(samples, key=lambda sample: sample[field], default=None)
    if best is None:
        return {"value": 0, "at_s": None, "browser_processes": 0}
    return {"value": best[field], "at_s": best["t"], "browser_processes": best["browser_processes"]}


def outcome(lines):
    """The counts of pytest's last summary line, e.g. {'passed': 120, 'failed': 1}."""
    for line in reversed(lines):
        found = SUMMARY.findall(line)
        if found and (" in " in line):
            return {word: int(number) for number, word in found}
    return {}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--make", action="store_true", help="run `make test` instead of pytest")
    parser.add_argument("--pytest-args", default="", help="extra arguments for pytest")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    args = parser.parse_args(argv)

    extra = shlex.split(args.pytest_args)
    if args.make:
        command = ["make", "test"] + ([f"PYTEST_ARGS={args.pytest_args}"] if extra else [])
    else:
        command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q", *extra]
    info = machine()
    print(f"running {' '.join(command)} (load {info['load_start']})", flush=True)
    started = time.monotonic()
    cpu_before = cpu_snapshot()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    sampler = Sampler(process.pid, args.interval)
    sampler.start()
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        print(line, end="", flush=True)
    returncode = process.wait()
    wall = time.monotonic() - started
    cpu_after = cpu_snapshot()
    sampler.done.set()
    sampler.join()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Machine-wide busy time from /proc/stat; the suite's share from the sampled processes (the
    # last half second of each process is missed, so it is a slight underestimate).
    info["cpu_use"] = cpu_share(cpu_before, cpu_after)
    suite_cpu = max(sampler.cpu_seconds(), children.ru_utime + children.ru_stime)
    machine_total = cpu_after["total"] - cpu_before["total"]
    if machine_total > 0:
        info["cpu_use"]["this_benchmark_pct"] = round(100 * suite_cpu / machine_total, 1)
        info["cpu_use"]["others_pct"] = round(
            max(info["cpu_use"]["machine_busy_pct"] - info["cpu_use"]["this_benchmark_pct"], 0), 1
        )
    info["load_end"] = load_average()

    samples = sampler.samples
    result = {
        "command": command,
        "returncode": returncode,
        "outcome": outcome(lines),
        "wall_s": round(wall, 1),
        "cpu_s": round(suite_cpu, 1),
        "cpu_s_waited_children": round(children.ru_utime + children.ru_stime, 1),
        "peak_browser_rss_mib": peak(samples, "browser_rss_mib"),
        "peak_browser_pss_mib": peak(samples, "browser_pss_mib"),
        "peak_all_rss_mib": peak(samples, "all_rss_mib"),
        "max_browser_processes": max((s["browser_processes"] for s in samples), default=0),
        "sample_interval_s": args.interval,
        "samples": samples,
        "output_tail": lines[-40:],
        "machine": info,
    }
    path = write_results("suite_cost", result)
    print(
        f"\nwall {result['wall_s']} s, exit {returncode}, {result['outcome']}; peak Chromium RSS "
        f"{result['peak_browser_rss_mib']['value']} MiB (PSS "
        f"{result['peak_browser_pss_mib']['value']} MiB), load {info['load_start']} -> "
        f"{info['load_end']}\n-> {path.relative_to(ROOT)}"
    )
    return returncode


if __name__ == "__main__":
    sys.exit(main())
