"""Runs one step: `STEP=2 make run`, or `python -m common.run --step 2 --port 8080`.

Options come from the command line or the environment (STEP, HOST, PORT, HTTPS, CERT_FILE,
KEY_FILE); the URLs to open are printed once the server is about to listen.
"""

import argparse
import errno
import importlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from common import network
from common.app import ROOT, work_root
from common.ice import check_settings

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


def tls_files():
    """(cert, key) when HTTPS=1, else None: CERT_FILE/KEY_FILE, or a self-signed certificate."""
    if os.environ.get("HTTPS", "") in ("", "0"):
        return None
    cert, key = os.environ.get("CERT_FILE"), os.environ.get("KEY_FILE")
    if cert or key:
        if not (cert and key and os.path.isfile(cert) and os.path.isfile(key)):
            raise SystemExit("CERT_FILE and KEY_FILE must both name existing files.")
        return cert, key
    return tuple(str(path) for path in network.self_signed_certificate(ROOT / "certs"))


def check_port(host, port):
    """Says so before any banner when the port is taken: a tab would otherwise keep showing
    whatever already listens there (often another step, started in another terminal)."""
    err = network.port_in_use(host, port)
    if err is None:
        return
    if isinstance(err, socket.gaierror):
        raise SystemExit(f"HOST={host} is not an address or a name this machine knows ({err}).")
    if err.errno == errno.EADDRNOTAVAIL:
        raise SystemExit(
            f"HOST={host} is not an address of this machine. Use 127.0.0.1 (this machine only) "
            "or 0.0.0.0 (every network it is on)."
        )
    holder = network.port_holder(port)
    who = f"it is taken by {holder}" if holder else f"the port is taken ({err.strerror})"
    raise SystemExit(
        f"Cannot listen on {host}:{port}: {who}.\n"
        f"Stop that program (Ctrl+C in its terminal), or choose another port: PORT={port + 1}."
    )


def urls_to_open(host, port, scheme):
    hosts = ["127.0.0.1", *network.lan_addresses()] if host in ("0.0.0.0", "::") else [host]
    return [f"{scheme}://{f'[{h}]' if ':' in h else h}:{port}/" for h in hosts]


def shown(path):
    """`path` as short as it reads well: relative when it is under the current folder."""
    return os.path.relpath(path) if Path(path).is_relative_to(Path.cwd()) else str(path)


def print_banner(folder, hint, urls, tls, pages, extra=()):
    print(f"\n  {folder} is running. Open {urls[0]} {hint}", flush=True)
    for line in extra:
        print(f"  {line}", flush=True)
    number = folder[4 : folder.index("_")]
    work = work_root() / folder
    if pages != ROOT / folder:
        print(f"  It serves your work copy, {shown(work)}/ (SOLUTION=1 STEP={number} make run:")
        print("  the finished step).")
    elif work.is_dir():
        print(f"  It serves the finished step; your work copy is in {shown(work)}/.")
    for url in urls[1:]:
        print(f"  From another machine on this network: {url}", flush=True)
    if tls:
        print("  The certificate is self-signed: the browser warns once; choose to continue.")
    elif len(urls) > 1:
        print("  Cameras need a secure context on other machines: add HTTPS=1 for video steps.")
    print("  Stop with Ctrl+C.\n", flush=True)


def main(argv=None):
    args = parse_args(argv)
    folder = choose_step(args.step, available_steps())
    port = choose_port(args.port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    check_settings()
    check_port(args.host, port)
    tls = tls_files()
    step = importlib.import_module(f"{folder}.server")
    app, socketio = step.create()
    urls = urls_to_open(args.host, port, "https" if tls else "http")
    rooms = app.extensions.get("rooms")
    hint = step.OPEN_HINT.format(capacity=rooms and rooms.capacity)
    # What a step has to say besides: step 14's token and endpoints.
    extra = app.extensions.get("banner", lambda urls: [])(urls)
    print_banner(folder, hint, urls, tls, app.extensions["pages"], extra)
    # A service manager's SIGTERM stops the server the way Ctrl+C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if socketio is None:
            app.run(host=args.host, port=port, threaded=True, ssl_context=tls)
        else:
            socketio.run(
                app, host=args.host, port=port, allow_unsafe_werkzeug=True, ssl_context=tls
            )
    except OSError as err:
        sys.exit(f"Cannot listen on {args.host}:{port}: {err}. Try another PORT.")
    stop(app)


def stop(app):
    """After Ctrl+C (or SIGTERM): the app's stop hooks, such as leaving the rooms kept in Redis."""
    for hook in app.extensions.get("on_stop", ()):
        hook()
    print("  Stopped.", flush=True)


if __name__ == "__main__":
    main()
