"""make.py, the commands with Python alone (the Makefile calls it): it runs a step, names a step
that does not exist, makes the virtual environment again when its pip does not run, names the
package to install when Python's venv module is missing, and knows where Windows keeps the
environment's Python."""

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import make
from tests.server import ROOT, free_port


def test_every_make_target_is_a_make_py_command():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY: (.*)$", makefile, re.M)[1].split()
    assert sorted(phony) == sorted(make.COMMANDS)
    for target in phony:
        assert re.search(rf"^({target}|.*\b{target}\b.*):", makefile, re.M), target


def test_run_serves_a_step_without_make(tmp_path):
    port = free_port()
    log = (tmp_path / "run.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "make.py", "run", "--step", "1", "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    assert b"Step 1" in response.read()
                    break
            except OSError:
                assert time.monotonic() < deadline, "make.py run did not serve step 1 in 30 s"
                try:  # a moment for the port to open, noticing an early exit
                    server.wait(timeout=0.1)
                    pytest.fail(f"make.py run exited:\n{(tmp_path / 'run.log').read_text()}")
                except subprocess.TimeoutExpired:
                    pass
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_a_step_that_does_not_exist_is_named_with_the_ones_that_do():
    result = subprocess.run(
        [sys.executable, "make.py", "run", "--step", "99"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Unknown STEP='99'" in result.stderr
    assert "STEP=12  step12_lobby" in result.stderr
    with pytest.raises(SystemExit, match=r"No tests for STEP=99: the steps are 1 2 3 .* 15"):
        make.test_files("99")
    assert make.test_files("12") == ["tests/test_step12_lobby.py"]


def test_a_venv_whose_pip_does_not_run_is_made_again(tmp_path, capsys):
    venv = tmp_path / ".venv"
    python = make.venv_python(venv)
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 1\n")  # what a venv made without ensurepip amounts to
    python.chmod(0o755)
    assert make.ensure_venv(venv) == python
    assert "has no working pip: making it again" in capsys.readouterr().out
    assert make.runs([python, "-m", "pip", "--version"])


def test_a_missing_venv_module_is_named_with_the_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(make, "runs", lambda command: False)  # as `python -m venv` fails then
    with pytest.raises(SystemExit, match="sudo apt-get install python3-venv"):
        make.ensure_venv(tmp_path / ".venv")
    assert not (tmp_path / ".venv").exists()


def test_on_windows_the_environments_python_is_in_scripts(monkeypatch):
    venv = Path("v")  # made before os.name changes: pathlib picks its class from it
    with monkeypatch.context() as windows:
        windows.setattr(make.os, "name", "nt")
        python = make.venv_python(venv)
    assert python == venv / "Scripts" / "python.exe"
