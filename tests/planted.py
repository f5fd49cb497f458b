"""Plants the classic mistakes of a connection in a step's finished main.js and says what
`make check` prints first about each: proof that the check names the mistake (tests/diagnosis.py),
not only what the page then failed to show.

    .venv/bin/python -m tests.planted            # every step, every mistake (about 8 minutes)
    .venv/bin/python -m tests.planted 2 5        # some steps

Each run is `make check -x` (tests/learner.py) on a work copy in a folder of its own (WORK_DIR);
the table printed at the end is the mistake and the first line under the first ✗.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common.app import ROOT
from common.run import available_steps

# (mistake, the line as the finished step has it, what it becomes). Each is the first occurrence.
PEER_TO_PEER = [
    (
        "candidates never sent",
        "pc.onicecandidate = ({candidate}) => candidate && sendSignal(peer, {candidate});",
        "",
    ),
    ("candidates never added", "await peer.connection.addIceCandidate(candidate);", ""),
    ("the offer never sent", "await sendSignal(peer, {description: pc.localDescription});", ""),
    (
        "the answer never set",
        "await pc.setRemoteDescription(description);",
        "if (description.type === 'offer') await pc.setRemoteDescription(description);",
    ),
]
SERVER_PEER = [
    (
        "the server's answer never set",
        "await pc.setRemoteDescription(answer.description);",
        "",
    )
]
PLANTED = {
    # Step 1 hands its signals over within the page, and applies them as step 2 does.
    1: [PEER_TO_PEER[1], PEER_TO_PEER[3]],
    2: PEER_TO_PEER,
    3: PEER_TO_PEER,
    4: PEER_TO_PEER,
    5: PEER_TO_PEER,
    6: SERVER_PEER,
    # Step 7 sends its candidates from onLocalCandidate(), to show them as well.
    7: [("candidates never sent", "    sendSignal(peer, {candidate});", ""), *PEER_TO_PEER[1:]],
    8: PEER_TO_PEER,
    9: PEER_TO_PEER,
    10: SERVER_PEER,
    11: PEER_TO_PEER,
    12: PEER_TO_PEER,
    13: SERVER_PEER,
    14: [
        (
            "the server's answer never set",
            "await connection.setRemoteDescription({type: 'answer', sdp: answer});",
            "",
        )
    ],
    15: SERVER_PEER,
}


def first_line_under_first_failure(output):
    """What the check says first under the first ✗, its wrapped lines joined."""
    lines = output.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("  ✗ ")), None)
    if first is None:
        return "(no test failed)"
    said = []
    for line in lines[first + 1 :]:
        if not line.startswith("      ") or (said and line.strip().startswith("the test saw:")):
            break
        said.append(line.strip())
        if line.strip().startswith("the test saw:"):
            break
    return " ".join(said) or "(nothing said)"


def plant(number, folder, mistake, work_dir):
    _, line, replacement = mistake
    env = {"BROWSERS": "chromium", **os.environ, "WORK_DIR": str(work_dir)}
    shutil.rmtree(work_dir / folder, ignore_errors=True)
    (work_dir / folder).mkdir(parents=True)
    for name in ("index.html", "main.js"):
        shutil.copy(ROOT / folder / name, work_dir / folder / name)
    for extra in (ROOT / folder).glob("*.js"):
        shutil.copy(extra, work_dir / folder / extra.name)
    main = work_dir / folder / "main.js"
    text = main.read_text()
    if line not in text:
        return f"(step {number} has no line {line!r})"
    main.write_text(text.replace(line, replacement, 1))
    command = [sys.executable, "-m", "tests.learner", str(number), "-x"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return first_line_under_first_failure(result.stdout)


def main(argv=None):
    steps = available_steps()
    wanted = [int(n) for n in (sys.argv[1:] if argv is None else argv)] or sorted(PLANTED)
    rows = []
    with tempfile.TemporaryDirectory(prefix="planted-") as work_dir:
        for number in wanted:
            for mistake in PLANTED[number]:
                said = plant(number, steps[number], mistake, Path(work_dir))
                rows.append((number, mistake[0], said))
                print(f"  step {number}, {mistake[0]}: {said}", flush=True)
    print("\n| step | planted mistake | what make check says first |\n|---|---|---|")
    for number, label, said in rows:
        print(f"| {number} | {label} | {re.sub(r'[|]', '/', said)} |")


if __name__ == "__main__":
    main()
