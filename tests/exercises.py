"""`make exercises` (CI runs it): proves that no exercise rots. For every step, in a folder of its
own (WORK_DIR, so a learner's work/ is left alone): `make work`, then `make check` must fail on the
starting point, and pass once the step's finished main.js is copied in.

    .venv/bin/python -m tests.exercises          # every step
    .venv/bin/python -m tests.exercises 3 4      # some steps
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common.app import ROOT
from common.run import available_steps
from common.work import exercise


def check(number, env, *options):
    """Runs `make check` for step `number` (tests/learner.py); returns (exit code, seconds)."""
    start = time.monotonic()
    command = [sys.executable, "-m", "tests.learner", str(number), *options]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return result, time.monotonic() - start


def prove(number, folder, work_dir):
    # One browser is enough to prove the exercise itself; `make test` proves the steps in both.
    env = {"BROWSERS": "chromium", **os.environ, "WORK_DIR": str(work_dir)}
    made = subprocess.run(
        [sys.executable, "-m", "common.work", "--step", str(number)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        return f"step {number}: make work failed:\n{made.stdout}{made.stderr}"
    # The starting point must fail: the first failing test is enough to know (-x).
    started, seconds = check(number, env, "-x")
    if started.returncode == 0 or not hint_under_first_failure(started.stdout):
        return f"step {number}: make check did not fail, with hints, on the starting point:\n" + (
            started.stdout + started.stderr
        )
    print(f"  step {number}: the starting point fails, as it should ({seconds:.0f} s)", flush=True)
    shutil.copy(ROOT / folder / "main.js", work_dir / folder / "main.js")
    finished, seconds = check(number, env)
    if finished.returncode != 0:
        return f"step {number}: make check failed with the finished main.js:\n" + (
            finished.stdout + finished.stderr
        )
    # In the order of the hints (a test with parameters is said once for each).
    said = [line[4:] for line in finished.stdout.splitlines() if line.startswith("  ✓ ")]
    said = list(dict.fromkeys(line.split(" [")[0] for line in said))
    expected = [name.removeprefix("test_").replace("_", " ") for name in exercise(folder)["hints"]]
    if said != [name for name in expected if name in said]:
        return f"step {number}: make check did not say the tests in the order of the hints:\n" + (
            finished.stdout
        )
    print(f"  step {number}: the finished main.js passes ({seconds:.0f} s)", flush=True)
    return None


def hint_under_first_failure(output):
    """Whether the first ✗ is followed at once by what the test saw and where to look (after
    why no connection came up, when the pages tell)."""
    lines = output.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("  ✗ ")), None)
    if first is None:
        return False
    explained = [line for line in lines[first + 1 :] if line.startswith("      ")]
    following = " ".join(lines[first + 1 : first + 1 + len(explained)])
    return "the test saw:" in following and "where to look:" in following


def main(argv=None):
    steps = available_steps()
    wanted = [int(n) for n in (sys.argv[1:] if argv is None else argv)] or sorted(steps)
    with tempfile.TemporaryDirectory(prefix="exercises-") as work_dir:
        print(f"Proving the exercises of steps {', '.join(map(str, wanted))}:", flush=True)
        problems = [p for n in wanted if (p := prove(n, steps[n], Path(work_dir))) is not None]
    for problem in problems:
        print(f"\n{problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
