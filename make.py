"""The project's commands, with Python alone: on Linux, macOS and Windows, with or without make.
The Makefile calls this file, so `STEP=3 make run` and `python make.py run --step 3` do the same.

    python make.py run --step 3          # STEP=3 make run (also --port, --host)
    python make.py test                  # make test: every test; --step 3 for one step's
    python make.py work --step 4         # STEP=4 make work
    python make.py check --step 4        # STEP=4 make check
    python make.py exercises             # make exercises
    python make.py peer --step 4 --room demo --echo     # STEP=4 make peer ARGS='--room demo --echo'
    python make.py install | browser | turn | lint | format | bench | clean

On Windows, `py make.py ...`; on macOS and Linux, `python3 make.py ...`. STEP, PORT, HOST and
the other settings the READMEs name can also come from the environment, as with make.

Each command installs what it needs first, once: a virtual environment in .venv (made again when
its pip does not run), the project in it (again when pyproject.toml changes), the test tools, the
browsers. Words after the command's own options go to the program it runs (pytest, the peer...).
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
MINIMUM_PYTHON = (3, 11)
NO_VENV = (
    "Python's venv module is missing or broken, so .venv cannot be made. On Debian or Ubuntu: "
    "sudo apt-get install python3-venv (or python3.X-venv for your Python 3.X); elsewhere, "
    "install Python from python.org, which has it."
)
BENCHMARKS = [
    "browser_setup",
    "signaling_capacity",
    "soak",
    "suite_cost",
    "file_transfer",
    "recording",
    "room_load",
    "broadcast_load",
    "report",
]


def venv_python(venv=VENV):
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def runs(command):
    """Whether `command` runs and exits 0 (quietly)."""
    try:
        return subprocess.run(command, capture_output=True).returncode == 0
    except OSError:
        return False


def call(command, env=None):
    """Runs `command` from the repository's root; a failure ends this script with its code."""
    code = subprocess.run([str(part) for part in command], cwd=ROOT, env=env).returncode
    if code != 0:
        sys.exit(code)


def stale(stamp, source):
    return not stamp.exists() or stamp.stat().st_mtime < source.stat().st_mtime


def ensure_venv(venv=VENV):
    """The virtual environment's python, made (again) when it is missing or its pip does not
    run: a .venv made while the venv module was missing has a python but no pip."""
    if sys.version_info < MINIMUM_PYTHON:
        found = ".".join(map(str, sys.version_info[:3]))
        sys.exit(f"Python 3.11 or newer is needed (this is {found}): run this with a newer one.")
    python = venv_python(venv)
    if python.exists() and runs([python, "-m", "pip", "--version"]):
        return python
    if venv.exists():
        print(f"{venv.name} has no working pip: making it again.")
        shutil.rmtree(venv)
    if not runs([sys.executable, "-m", "venv", venv]) or not runs(
        [python, "-m", "pip", "--version"]
    ):
        shutil.rmtree(venv, ignore_errors=True)
        sys.exit(NO_VENV)
    return python


def pip_install(python, what):
    call([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", what])


def once(stamp, after, install):
    """Runs `install` unless `stamp` is newer than `after` (what it depends on); then stamps."""
    if stale(stamp, after):
        install()
        stamp.touch()


def install_run():
    """What running a step needs; returns the virtual environment's python."""
    python = ensure_venv()
    once(VENV / ".installed-run", ROOT / "pyproject.toml", lambda: pip_install(python, "."))
    return python


def install_dev():
    """And the test and benchmark tools."""
    python = install_run()
    once(VENV / ".installed-dev", VENV / ".installed-run", lambda: pip_install(python, ".[dev]"))
    return python


def install_browsers():
    python = install_dev()
    install = [python, "-m", "tests.browsers", "--install"]
    once(VENV / ".browsers", VENV / ".installed-dev", lambda: call(install))
    return python


def install_js(required):
    """node_modules, for the benchmarks' Node reference server and tests/test_vendor.py. Only the
    benchmarks require it; the tests use it where npm is at hand."""
    npm = shutil.which("npm")
    if npm is None:
        if required:
            sys.exit("npm is needed for the benchmarks' Node reference server: install Node.js.")
        return
    install = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    once(
        ROOT / "node_modules" / ".package-lock.json",
        ROOT / "package-lock.json",
        lambda: call(install),
    )


def with_env(**settings):
    """This process's environment with the given settings (None: left as it is)."""
    env = dict(os.environ)
    env.update({key: str(value) for key, value in settings.items() if value is not None})
    return env


def test_files(step):
    if step is None:
        return []
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob(f"test_step{step}_*.py"))
    if not found:
        folders = [path.parent.name for path in ROOT.glob("step*_*/server.py")]
        steps = sorted(int(folder[4 : folder.index("_")]) for folder in folders)
        sys.exit(f"No tests for STEP={step}: the steps are {' '.join(map(str, steps))}")
    return found


def run(args):
    env = with_env(STEP=args.step, PORT=args.port, HOST=args.host)
    call([install_run(), "-m", "common.run", *args.rest], env=env)


def test(args):
    python = install_dev()
    install_js(required=False)
    install_browsers()
    call([python, "-m", "pytest", "-n", "auto", *test_files(args.step), *args.rest])


def work(args):
    call([install_run(), "-m", "common.work", "--step", args.step or "1"])


def check(args):
    install_browsers()
    call([venv_python(), "-m", "tests.learner", args.step or "1", *args.rest])


def exercises(args):
    call([install_browsers(), "-m", "tests.exercises", *args.rest])


def peer(args):
    url = f"http://127.0.0.1:{args.port or '8080'}"
    command = ["-m", "common.peer", "--step", args.step or "1", "--url", url, *args.rest]
    call([install_run(), *command])


def turn(args):
    call([install_run(), "-m", "common.turn", *args.rest], env=with_env(HOST=args.host))


def install(args):
    install_run()


def browser(args):
    install_browsers()


def lint(args):
    python = install_dev()
    call([python, "-m", "ruff", "check", "."])
    call([python, "-m", "ruff", "format", "--check", "."])


def format_code(args):
    python = install_dev()
    call([python, "-m", "ruff", "format", "."])
    call([python, "-m", "ruff", "check", "--fix", "."])


def bench(args):
    python = install_browsers()
    install_js(required=True)
    for name in BENCHMARKS:
        call([python, "-m", f"bench.{name}"])


def clean(args):
    for name in (".venv", "node_modules", "build", ".pytest_cache", ".ruff_cache", ".hypothesis"):
        shutil.rmtree(ROOT / name, ignore_errors=True)
    for path in [*ROOT.glob("*.egg-info"), *ROOT.rglob("__pycache__")]:
        shutil.rmtree(path, ignore_errors=True)


COMMANDS = {
    "run": (run, "run a step's server and print the address to open"),
    "test": (test, "every test, in Chromium and Firefox (--step N: one step's)"),
    "work": (work, "make work/<step folder>/ to type a step into"),
    "check": (check, "a step's tests against your work copy, with hints"),
    "exercises": (exercises, "prove that every starting point fails and every step passes"),
    "peer": (peer, "a WebRTC peer in Python, in a room of a running step"),
    "turn": (turn, "a local TURN server (coturn)"),
    "install": (install, "install what running a step needs"),
    "browser": (browser, "find (or fetch) the browsers the tests drive"),
    "lint": (lint, "check the Python code with ruff"),
    "format": (format_code, "format the Python code with ruff"),
    "bench": (bench, "every benchmark; writes docs/benchmarks.md"),
    "clean": (clean, "remove .venv, node_modules and the caches"),
}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="make.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, summary) in COMMANDS.items():
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument("--step", default=os.environ.get("STEP") or None)
        command.add_argument("--port", default=os.environ.get("PORT") or None)
        command.add_argument("--host", default=os.environ.get("HOST") or None)
    args, rest = parser.parse_known_args(argv)
    args.rest = [word for word in rest if word != "--"]
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    COMMANDS[args.command][0](args)


if __name__ == "__main__":
    main()
