"""The ICE servers handed to each member in the `join` acknowledgement.

Empty by default: two browsers on one machine or one LAN find each other through their host
candidates and need no STUN or TURN server. `STUN_URLS` (comma-separated) adds STUN servers.
"""

import os


def ice_servers(member):
    urls = [url.strip() for url in os.environ.get("STUN_URLS", "").split(",") if url.strip()]
    return [{"urls": urls}] if urls else []
