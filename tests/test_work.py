"""Type along without a browser: `make work` makes the starting point of every step and never
overwrites a learner's work; the server serves the copy the learner asked for. (That `make check`
fails on every starting point and passes on every finished step is `make exercises`, which CI
runs: tests/exercises.py.)"""

import re
import subprocess
import sys
import urllib.request

import pytest

from common import app, work
from common.run import available_steps
from tests.server import ROOT, Server


@pytest.mark.parametrize("number", sorted(available_steps()))
def test_every_step_has_a_starting_point_with_its_todos(number):
    folder = available_steps()[number]
    plan = work.exercise(folder)
    start = work.starting_point(folder)
    assert start.count(f"// TODO (step {number}): ") == len(plan["todo"])
    assert start != (ROOT / folder / "main.js").read_text()
    assert all(name.startswith("test_") for name in plan["hints"])


def test_make_work_copies_the_page_and_refuses_to_overwrite(tmp_path):
    env = {"WORK_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "common.work", "--step", "3"]
    made = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    copy = tmp_path / "step3_user_list"
    assert sorted(p.name for p in copy.iterdir()) == ["README.md", "index.html", "main.js"]
    assert (copy / "main.js").read_text() == work.starting_point("step3_user_list")
    assert "STEP=3 make check" in made.stdout

    (copy / "main.js").write_text("// my own work")
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert again.returncode != 0
    assert "is there already" in again.stderr and "To start over: rm -r" in again.stderr
    assert (copy / "main.js").read_text() == "// my own work"


def test_the_server_serves_the_copy_asked_for(tmp_path, monkeypatch):
    step = ROOT / "step2_two_users"
    monkeypatch.setenv("WORK_DIR", str(tmp_path))
    monkeypatch.delenv("PAGES", raising=False)
    assert app.pages_folder(step) == step  # no work copy yet
    monkeypatch.setenv("PAGES", "work")
    with pytest.raises(SystemExit, match="STEP=2 make work"):
        app.pages_folder(step)
    (tmp_path / "step2_two_users").mkdir()
    (tmp_path / "step2_two_users" / "index.html").write_text("<h1>mine</h1>")
    assert app.pages_folder(step) == tmp_path / "step2_two_users"
    monkeypatch.delenv("PAGES")
    assert app.pages_folder(step) == tmp_path / "step2_two_users"  # while there is one
    monkeypatch.setenv("SOLUTION", "1")
    assert app.pages_folder(step) == step


def test_make_run_serves_the_work_copy_and_says_so(tmp_path):
    copy = tmp_path / "work" / "step2_two_users"
    copy.mkdir(parents=True)
    (copy / "index.html").write_text("<h1>my step 2</h1>")
    server = Server(2, tmp_path, PAGES="", WORK_DIR=tmp_path / "work")
    try:
        with urllib.request.urlopen(server.url + "/", timeout=5) as response:
            assert response.read() == b"<h1>my step 2</h1>"
    finally:
        server.stop()
    banner = server.log_path.read_text()
    assert "It serves your work copy" in banner
    assert "SOLUTION=1 STEP=2 make run" in banner


@pytest.mark.parametrize("number", sorted(available_steps()))
def test_every_test_of_a_step_has_a_hint_so_make_check_can_order_and_explain_it(number):
    # make check runs a step's tests in the order of its hints (the README's What's new) and shows
    # the hint of the first that fails: a test without one would run last and explain nothing.
    hints = work.exercise(available_steps()[number])["hints"]
    tests = {
        name
        for path in (ROOT / "tests").glob(f"test_step{number}_*.py")
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.MULTILINE)
    }
    assert tests == set(hints), f"tests without a hint: {sorted(tests - set(hints))}"
