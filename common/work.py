"""`STEP=N make work`: the learner's own copy of a step, to type the lesson into.

    STEP=4 make work     # work/step4_group_chat/
    STEP=4 make run      # serves the work copy while it exists (SOLUTION=1 for the finished step)
    STEP=4 make check    # step 4's own tests against it (tests/learner.py)

The copy holds step N's page (index.html and the like) and README, and as main.js the starting
point: step N-1's finished main.js with TODO comments where step N's concept goes (for step 1, its
own main.js with the WebRTC calls left out). What goes where is each step's exercise.toml: every
TODO is placed before the line that starts with its `at`, and `blank = true` also empties that
function, leaving the TODO in its place.
"""

import argparse
import os
import shutil
import sys
import textwrap
import tomllib
from pathlib import Path

from common.app import PAGE_FILES, ROOT, work_root
from common.run import available_steps, choose_step

WIDTH = 100


def exercise(folder):
    with open(ROOT / folder / "exercise.toml", "rb") as file:
        return tomllib.load(file)


def starting_point(folder):
    """The main.js a learner starts step `folder` from."""
    plan = exercise(folder)
    number = folder[4 : folder.index("_")]
    lines = (ROOT / plan["start"] / "main.js").read_text().split("\n")
    for todo in plan["todo"]:
        lines = with_todo(lines, todo, number, plan["start"])
    return "\n".join(lines)


def with_todo(lines, todo, number, start):
    at = next((i for i, line in enumerate(lines) if line.startswith(todo["at"])), None)
    if at is None:
        raise SystemExit(
            f"exercise of step {number}: no line of {start}/main.js starts with {todo['at']!r}"
        )
    indent = "  " if todo.get("blank") else ""
    comment = textwrap.wrap(
        f"TODO (step {number}): {' '.join(todo['text'].split())}",
        WIDTH - len(indent) - 3,
    )
    block = [f"{indent}// {line}" for line in comment]
    if not todo.get("blank"):
        return lines[:at] + block + lines[at:]
    end = next(i for i in range(at + 1, len(lines)) if lines[i] == "}")
    return lines[: at + 1] + block + lines[end:]


def make_work(folder):
    """Creates work/<folder>/; refuses if it is there already."""
    target = work_root() / folder
    if target.exists():
        raise SystemExit(
            f"{relative(target)}/ is there already, with your work in it: it is left as it is.\n"
            f"To start over: rm -r {relative(target)} && STEP={number_of(folder)} make work\n"
            f"To see what is left to do: diff {relative(target)}/main.js {folder}/main.js"
        )
    target.mkdir(parents=True)
    for path in (ROOT / folder).iterdir():
        if path.name == "README.md" or (path.suffix in PAGE_FILES and path.name != "main.js"):
            shutil.copy(path, target / path.name)
    (target / "main.js").write_text(starting_point(folder))
    return target


def number_of(folder):
    return int(folder[4 : folder.index("_")])


def relative(path):
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", default=os.environ.get("STEP") or "1")
    folder = choose_step(parser.parse_args(argv).step, available_steps())
    target = make_work(folder)
    n = number_of(folder)
    plan = exercise(folder)
    base = plan["start"]
    start = f"step {number_of(base)}'s finished code" if base != folder else "its calls left out"
    print(
        f"\n  Made {relative(target)}/: step {n}'s page and README, and main.js: {start},\n"
        f"  with {len(plan['todo'])} TODO comments where step {n}'s concept goes.\n\n"
        f"  Edit {relative(target)}/main.js, then:\n"
        f"    STEP={n} make run      serves your copy (SOLUTION=1 for the finished step)\n"
        f"    STEP={n} make check    step {n}'s own browser tests against your copy\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
