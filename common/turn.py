"""`make turn`: a local TURN server (coturn) with a fresh shared secret, for trying relayed calls
(step 7 is their lesson). coturn answers STUN requests on the same port.

    make turn                      # on 127.0.0.1:3478, then run a step with the printed settings
    HOST=0.0.0.0 make turn         # for the machines of a workshop network

It runs coturn in the foreground with the TURN REST scheme (`use-auth-secret`): the signaling
server makes short-lived credentials for each member from the same secret (common/ice.py).
"""

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys

from common import network

REALM = "webrtc-tutorial"
MISSING = """coturn is not installed. On Debian/Ubuntu:  sudo apt-get install coturn
(macOS: brew install coturn). Then run `make turn` again."""
# coturn 4.6 also listens for TURN over SCTP, and prints this when the kernel has no SCTP, which
# is most laptops. It is harmless (TURN over UDP and TCP work), so it is not shown.
SCTP_MISSING = "socket: Protocol not supported"


def turnserver_command(binary, secret, host="127.0.0.1", port=3478, relay_ports=(49152, 49252)):
    """The coturn command line for a TURN server using the REST scheme with `secret`."""
    return [
        binary,
        "--no-rfc5780",
        f"--listening-ip={host}",
        f"--listening-port={port}",
        f"--min-port={relay_ports[0]}",
        f"--max-port={relay_ports[1]}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--realm={REALM}",
        "--fingerprint",
        # Peers on this machine (two tabs, the tests) talk over loopback through the relay.
        "--allow-loopback-peers",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--log-file=stdout",
        "--simple-log",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("TURN_PORT") or 3478))
    args = parser.parse_args(argv)
    binary = shutil.which("turnserver")
    if binary is None:
        sys.exit(MISSING)
    secret = secrets.token_urlsafe(24)
    hosts = ["127.0.0.1", *network.lan_addresses()] if args.host == "0.0.0.0" else [args.host]
    urls = ",".join(
        f"turn:{h}:{args.port}?transport=udp,turn:{h}:{args.port}?transport=tcp" for h in hosts
    )
    stun = ",".join(f"stun:{h}:{args.port}" for h in hosts)
    print(
        f"\n  TURN server on {args.host}:{args.port}. In another terminal, run a step with it:\n\n"
        f"    TURN_URLS='{urls}' TURN_SECRET='{secret}' STUN_URLS='{stun}' STEP=7 make run\n\n"
        "  (step 7 is the lesson; any other step works too). Tick 'Relayed candidates only', or\n"
        "  add ?relay=1 to the page's URL, to allow relayed candidates only.\n"
        "  Stop with Ctrl+C.\n",
        flush=True,
    )
    sys.exit(run_quietly(turnserver_command(binary, secret, args.host, args.port)))


def run_quietly(command):
    """Runs `command` until it ends, or until Ctrl+C or SIGTERM stop it too, passing on its error
    output but the SCTP noise."""
    # A service manager's SIGTERM stops us the way Ctrl+C does, so coturn is never left behind.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            if line.strip() != SCTP_MISSING:
                print(line, end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        process.terminate()
    return process.wait()


if __name__ == "__main__":
    main()
