"""`STEP=N make check`: step N's own browser tests against the learner's work copy
(work/<step folder>/, from `STEP=N make work`), each failure said in a learner's words.

    python -m tests.learner 4              # what `STEP=4 make check` runs
    python -m tests.learner 4 -x -v        # more pytest options: STEP=4 make check ARGS='-x -v'

The tests are the very ones `make test` runs for the step (tests/test_stepN_*.py); only the page
they load differs (PAGES=work: common/app.py). For each test it prints what the test checks (its
name), and for a failure the first lines of what it saw instead and where to look: the hint for
that test in the step's exercise.toml.
"""

import os
import re
import sys
import textwrap

import pytest

from common.app import ROOT, work_root
from common.run import available_steps, choose_step, shown
from common.work import exercise

SAW_LINES = 2
SAW_WIDTH = 150
LOCATOR = re.compile(r'locator\("([^"]+)"\)')


class Explainer:
    """A pytest plugin: collects each test's outcome, then explains them at the end."""

    def __init__(self, folder):
        self.folder = folder
        self.hints = exercise(folder).get("hints", {})
        self.results = {}  # test name -> (passed, what it saw)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = (yield).get_result()
        name = item.originalname
        if report.failed:
            params = item.callspec.params if hasattr(item, "callspec") else {}
            browser = f"(in {params['browser_name']}) " if "browser_name" in params else ""
            self.results[name] = (False, browser + what_it_saw(call.excinfo))
        elif report.when == "call" and name not in self.results:
            self.results[name] = (True, "")

    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.write_line
        write("")
        for name, (passed, saw) in self.results.items():
            write(f"  {'✓' if passed else '✗'} {name.removeprefix('test_').replace('_', ' ')}")
            if not passed:
                write(f"      the test saw: {saw}")
                hint = self.hints.get(name, f"read the test itself: {name} in tests/")
                for line in textwrap.wrap(f"where to look: {hint}", 92):
                    write(f"      {line}")
        failed = sum(not passed for passed, _ in self.results.values())
        write("")
        if not self.results:
            write("  No test ran.")
        elif failed:
            write(
                f"  {len(self.results) - failed} of {len(self.results)} pass. Start with the first"
                " ✗: the later ones often follow from it."
            )
        else:
            write(f"  All {len(self.results)} pass: your copy does what the finished step does.")


def what_it_saw(excinfo):
    """The first lines of the error's message, and the element it was about, without the
    traceback."""
    if excinfo is None:
        return "the test failed"
    message = str(excinfo.value)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = [f"{excinfo.typename}: {lines[0]}" if lines else excinfo.typename, *lines[1:SAW_LINES]]
    seen = " / ".join(line[:SAW_WIDTH] for line in first)
    element = LOCATOR.search(message)
    return f"{seen} (on {element.group(1)})" if element else seen


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = choose_step(argv[0] if argv else os.environ.get("STEP", ""), available_steps())
    number = folder[4 : folder.index("_")]
    work = work_root() / folder
    if not (work / "main.js").is_file():
        print(f"No work copy of step {number} yet: make one with STEP={number} make work")
        return 2
    tests = sorted(
        str(path.relative_to(ROOT)) for path in (ROOT / "tests").glob(f"test_step{number}_*.py")
    )
    print(
        f"Checking {shown(work)}/ with step {number}'s own tests ({', '.join(tests)}).", flush=True
    )
    os.environ["PAGES"] = "work"  # every server the tests start serves the work copy
    options = ["-q", "--tb=no", "-rN", "-p", "no:cacheprovider", *argv[1:]]
    return pytest.main([*tests, *options], plugins=[Explainer(folder)])


if __name__ == "__main__":
    sys.exit(main())
