"""Measures an earlier commit with its own benchmark scripts, for the before/after tables of
docs/benchmarks.md: the commit is checked out in a temporary git worktree that borrows this
checkout's node_modules and virtual environment, and its results are saved here as
bench/results/NAME-before.json.

    .venv/bin/python -m bench.before 6916023 signaling_capacity --pairs 1 4 16 --idle 1000 2000
    .venv/bin/python -m bench.before 6916023 browser_setup --settle 3

Run it next to the "after" measurement (same machine, same hour): the two are only comparable
when the machine was as busy for both.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.signaling_capacity import RESULTS, ROOT

# The result file each benchmark writes, by module name.
RESULT_FILES = {"signaling_capacity": "signaling.json", "browser_setup": "browser_setup.json"}


def run_at(commit, module, args):
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True
        )
        try:
            for modules in ("node_modules", "bench/reference/node_modules"):
                if (ROOT / modules).is_dir():
                    (tree / modules).symlink_to(ROOT / modules)
            subprocess.run([sys.executable, "-m", f"bench.{module}", *args], cwd=tree, check=True)
            result = tree / "bench" / "results" / RESULT_FILES[module]
            target = RESULTS / RESULT_FILES[module].replace(".json", "-before.json")
            RESULTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result, target)
            print(f"{commit} measured: {target}")
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit")
    parser.add_argument("module", choices=sorted(RESULT_FILES))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")
    args = parser.parse_args(argv)
    run_at(args.commit, args.module, args.args)


if __name__ == "__main__":
    main()
