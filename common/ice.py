"""The ICE servers handed to each member in the `join` acknowledgement.

Empty by default: two browsers on one machine or one LAN find each other through their host
candidates and need no STUN or TURN server. The environment adds servers:

- `STUN_URLS`: comma-separated STUN URLs, e.g. `stun:stun.example.org:3478`.
- `TURN_URLS`: comma-separated TURN URLs, e.g. `turn:turn.example.org:3478?transport=udp`.
- `TURN_SECRET`: the TURN server's shared secret (coturn's `static-auth-secret`). Each member gets
  credentials of its own made from it (the "TURN REST API" scheme); the secret itself never
  leaves the server.
- `TURN_TTL`: how long those credentials stay valid, in seconds (default 6 hours, about a
  workshop day's session).
"""

import base64
import hashlib
import hmac
import os
import time

DEFAULT_TURN_TTL = 6 * 3600


def url_list(name):
    return [url.strip() for url in os.environ.get(name, "").split(",") if url.strip()]


def turn_credentials(secret, member_id, ttl, now=None):
    """(username, credential): username "<expiry unix time>:<member>", credential
    base64(HMAC-SHA1(secret, username)). The TURN server recomputes the credential from the
    username with the same secret, and refuses it after the expiry."""
    expiry = int(now if now is not None else time.time()) + ttl
    username = f"{expiry}:{member_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def check_settings():
    """Refuses a half-made TURN setting at start-up rather than handing out useless servers."""
    if url_list("TURN_URLS") and not os.environ.get("TURN_SECRET"):
        raise SystemExit("TURN_URLS is set but TURN_SECRET is not: set both (see `make turn`).")
    ttl = os.environ.get("TURN_TTL", "")
    if ttl and (not ttl.isdigit() or int(ttl) <= 0):
        raise SystemExit(f"TURN_TTL must be a number of seconds, not {ttl!r}")


def ice_servers(member):
    servers = []
    stun = url_list("STUN_URLS")
    if stun:
        servers.append({"urls": stun})
    turn = url_list("TURN_URLS")
    if turn:
        ttl = int(os.environ.get("TURN_TTL") or DEFAULT_TURN_TTL)
        username, credential = turn_credentials(os.environ["TURN_SECRET"], member.id, ttl)
        servers.append({"urls": turn, "username": username, "credential": credential})
    return servers
