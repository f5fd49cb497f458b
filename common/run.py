"""Runs one step: `STEP=2 make run`, or `python -m common.run --step 2 --port 8080`.

Options come from the command line or the environment (STEP, HOST, PORT); the URL to open is
printed once the server is about to listen.
"""

import argparse
import importlib
import logging
import os
import sys

from common.app import ROOT

log = logging.getLogger("run")


def available_steps():
    """{number: folder name} for every stepN_* folder that has a server.py."""
    steps = {}
    for folder in sorted(ROOT.glob("step*_*")):
        number = folder.name[4 : folder.name.index("_")]
        if number.isdigit() and (folder / "server.py").exists():
            steps[int(number)] = folder.name
    return steps


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--step", default=os.environ.get("STEP") or "1")
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", default=os.environ.get("PORT") or "8080")
    return parser.parse_args(argv)


def choose_step(value, steps):
    if value.isdigit() and int(value) in steps:
        return steps[int(value)]
    listing = "\n".join(f"  STEP={n}  {name}" for n, name in steps.items())
    raise SystemExit(f"Unknown STEP={value!r}. The steps are:\n{listing}")


def choose_port(value):
    if value.isdigit() and 0 < int(value) < 65536:
        return int(value)
    raise SystemExit(f"PORT must be a number from 1 to 65535, not {value!r}")


def main(argv=None):
    args = parse_args(argv)
    folder = choose_step(args.step, available_steps())
    port = choose_port(args.port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    step = importlib.import_module(f"{folder}.server")
    app, socketio = step.create()
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"\n  {folder} is running. Open http://{shown_host}:{port}/ {step.OPEN_HINT}", flush=True)
    if args.host in ("0.0.0.0", "::"):
        print(
            "  Listening on every interface: other machines use this machine's LAN address.",
            flush=True,
        )
    print("  Stop with Ctrl+C.\n", flush=True)
    try:
        if socketio is None:
            app.run(host=args.host, port=port, threaded=True)
        else:
            socketio.run(app, host=args.host, port=port, allow_unsafe_werkzeug=True)
    except OSError as err:
        sys.exit(f"Cannot listen on {args.host}:{port}: {err}. Try another PORT.")


if __name__ == "__main__":
    main()
