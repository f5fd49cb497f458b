"""`STEP=N make check`: step N's own browser tests against the learner's work copy
(work/<step folder>/, from `STEP=N make work`), each failure said in a learner's words.

    python -m tests.learner 4              # what `STEP=4 make check` runs
    python -m tests.learner 4 -x -v        # more pytest options: STEP=4 make check ARGS='-x -v'

The tests are the very ones `make test` runs for the step (tests/test_stepN_*.py); only the page
they load differs (PAGES=work: common/app.py), and they run in Chromium alone unless BROWSERS says
otherwise (BROWSERS=firefox, or BROWSERS=chromium,firefox as `make test` does). They run from the
most basic behaviour to the most advanced, and as each ends it prints what the test checks (its
name) with ✓ or ✗; under the first ✗, the first lines of what it saw instead and where to look:
the hint for that test in the step's exercise.toml, whose hints are in the order of the README's
*What's new*.
"""

import os
import re
import sys
import textwrap

import pytest

from common.app import ROOT, work_root
from common.run import available_steps, choose_step, shown
from common.work import exercise
from tests import browsers
from tests.diagnosis import diagnose

SAW_LINES = 2
SAW_WIDTH = 150
LOCATOR = re.compile(r'locator\("([^"]+)"\)')


class Explainer:
    """A pytest plugin that says each outcome in place of pytest's dots: ✓ or ✗, and for the first
    ✗ what the test saw and where to look. The tests run from the most basic behaviour to the most
    advanced (tests/conftest.py orders them by the hints in exercise.toml, the order of the
    README's *What's new*), on several workers at once, and each outcome is said in that order as
    soon as the tests before it are over."""

    def __init__(self, folder):
        self.hints = exercise(folder).get("hints", {})
        self.order = []  # every test's nodeid, in the order the tests are said
        self.outcomes = {}  # nodeid -> (mark, report), once the test is over
        self.said = 0  # how many of self.order are said
        self.explained = False
        self.cause = None  # why the first ✗ failed, when its pages tell (tests/diagnosis.py)
        self.same_cause = 0  # the later ✗ with that same cause
        self.config = None

    def pytest_configure(self, config):
        self.config = config

    @property
    def terminal(self):
        return self.config.pluginmanager.get_plugin("terminalreporter")

    @property
    def browsers_run(self):
        return self.config.option.browser

    def pytest_collection_finish(self, session):  # without pytest-xdist
        self.order = [item.nodeid for item in session.items]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):  # every worker collects the same
        self.order = list(ids)

    def pytest_report_teststatus(self, report):
        # No dots or letters from pytest: pytest_runtest_logreport below says it in words.
        counted = report.when == "call" or not report.passed
        return (report.outcome if counted else ""), "", ""

    def pytest_runtest_logreport(self, report):
        known = self.outcomes.get(report.nodeid, ("",))[0]
        if report.failed and known != "✗":
            self.outcomes[report.nodeid] = ("✗", report)
        elif report.skipped and not known:
            self.outcomes[report.nodeid] = ("-", report)
        elif report.when == "teardown" and not known:
            self.outcomes[report.nodeid] = ("✓", report)
        if report.when == "teardown":
            self.say_in_order()

    def say_in_order(self, to_the_end=False):
        while self.said < len(self.order):
            nodeid = self.order[self.said]
            if nodeid in self.outcomes:
                self.say(*self.outcomes[nodeid])
            elif not to_the_end:
                return
            self.said += 1

    def say(self, mark, report):
        name, browser = described(report.nodeid)
        shown_browser = f" (in {browser})" if browser and len(self.browsers_run) > 1 else ""
        after = f"  (skipped: {skip_reason(report)})" if mark == "-" else ""
        cause = cause_of(report) if mark == "✗" else None
        if mark == "✗" and self.explained and cause and cause == self.cause:
            self.same_cause += 1
            after = "  (the same cause)"
        self.terminal.write_line(f"  {mark} {name}{shown_browser}{after}", flush=True)
        if mark == "✗" and not self.explained:
            self.explained = True
            self.cause = cause
            self.explain(report)

    def explain(self, report):
        name = report.nodeid.split("::")[-1].split("[")[0]
        write = self.terminal.write_line
        if self.cause:
            for line in textwrap.wrap(f"no connection came up: {self.cause}", 92):
                write(f"      {line}")
        write(f"      the test saw: {what_it_saw(report)}")
        hint = self.hints.get(name, f"read the test itself: {name} in tests/")
        for line in textwrap.wrap(f"where to look: {hint}", 92):
            write(f"      {line}")
        self.terminal.flush()

    def pytest_terminal_summary(self, terminalreporter):
        self.say_in_order(to_the_end=True)  # after -x, say what did run
        write = terminalreporter.write_line
        ran = [mark for mark, _ in self.outcomes.values() if mark != "-"]
        failed = ran.count("✗")
        if not ran:
            write("  No test ran.")
        elif failed and self.same_cause:
            write(
                f"  {len(ran) - failed} of {len(ran)} pass. {self.same_cause + 1} of the {failed} "
                "failures have one cause, the connection that never came up: start there."
            )
        elif failed:
            write(
                f"  {len(ran) - failed} of {len(ran)} pass. Start with the first ✗: the later ones"
                " often follow from it."
            )
        else:
            write(f"  All {len(ran)} pass: your copy does what the finished step does.")
        if len(ran) < len(self.outcomes) and len(self.browsers_run) == 1:
            write("  The tests across browsers need both: BROWSERS=chromium,firefox make check.")


def described(nodeid):
    """('cancel from either side [sender]', 'firefox') for
    tests/...::test_cancel_from_either_side[firefox-sender]"""
    test = nodeid.split("::")[-1]
    name, _, params = test.partition("[")
    values = params.rstrip("]").split("-") if params else []
    browser = next((value for value in values if value in browsers.NAMES), "")
    others = "-".join(value for value in values if value not in browsers.NAMES)
    name = name.removeprefix("test_").replace("_", " ")
    return name + (f" [{others}]" if others else ""), browser


def cause_of(report):
    """Why no connection came up in a failed test, from what its pages did, or None."""
    traces = dict(report.user_properties).get("webrtc")
    return diagnose(traces) if traces else None


def skip_reason(report):
    return (
        report.longrepr[2].removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else ""
    )


def what_it_saw(report):
    """The first lines of the error's message, and the element it was about, without the
    traceback."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is None:
        return (
            str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "the test failed"
        )
    message = crash.message
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = lines[:SAW_LINES] or ["the test failed"]
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
    # One browser answers faster; BROWSERS=chromium,firefox checks both, as `make test` does.
    os.environ.setdefault("BROWSERS", "chromium")
    # Several tests at once (-n auto: tests/conftest.py says how many), unless ARGS says otherwise.
    workers = (
        [] if any(a.startswith(("-n", "--numprocesses")) for a in argv[1:]) else ["-n", "auto"]
    )
    options = ["-q", "--tb=no", "-rN", "--no-header", "-p", "no:cacheprovider", *workers, *argv[1:]]
    return pytest.main([*tests, *options], plugins=[Explainer(folder)])


if __name__ == "__main__":
    sys.exit(main())
