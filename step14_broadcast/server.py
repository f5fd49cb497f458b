"""Step 14: broadcast. One publisher, any number of viewers, and signaling that is one HTTP
request each way: WHIP (RFC 9725) to publish, WHEP (IETF draft) to watch. No socket.io.

    POST   /whip/<stream>        the publisher's SDP offer (Content-Type: application/sdp,
                                 Authorization: Bearer <token>) -> 201 Created, the SDP answer,
                                 and Location: /whip/<stream>/<session>, an unguessable URL
    DELETE /whip/<stream>/<session>   ends the broadcast (with the token)
    POST   /whep/<stream>        a viewer's receive-only offer -> 201, the answer, Location
    DELETE /whep/<stream>/<session>   the viewer leaves
    OPTIONS on each of them      CORS, so that a page of another origin can publish or watch

Errors are a status and one sentence of text/plain: 401 (no token, or a wrong one), 400 (the body
is not an SDP offer this server can use), 406 (no VP8 and no Opus in it), 409 (the stream has a
publisher already), 404 (no such session), 413 (a body over 128 KiB), 415 (not application/sdp).

The token comes from PUBLISH_TOKEN, or is made at start and printed with the URLs. Aiortc
gathers its candidates before it answers, so every answer holds them all: no trickle (PATCH).
The media side, step 6's forwarding with one publisher, is broadcasts.py.
"""

import hmac
import logging
import os
import re
import secrets
from pathlib import Path
from types import SimpleNamespace

from aiortc import RTCIceServer
from flask import Response, jsonify, request

from common.app import create_app
from common.ice import ice_servers
from step14_broadcast.broadcasts import Broadcasts, Refused

OFFER_MAX_BYTES = 128 * 1024
STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
CLIENT = SimpleNamespace(id="broadcast")  # whom TURN credentials are made for (common/ice.py)
OPEN_HINT = "to publish: the Publish link below fills in the token."

log = logging.getLogger("broadcast")


def create():
    logging.getLogger("aioice").setLevel(logging.WARNING)
    app, _ = create_app(Path(__file__).parent)
    token = os.environ.get("PUBLISH_TOKEN") or secrets.token_urlsafe(12)
    # The server's own side uses the URLs (as step 6's does); clients get credentials of their own.
    broadcasts = Broadcasts(RTCIceServer(urls=s["urls"]) for s in ice_servers(CLIENT))

    @app.route("/whip/<stream>", methods=["POST", "OPTIONS"])
    def whip(stream):
        if request.method == "OPTIONS":
            return options("POST, OPTIONS")
        if not authorized(token):
            return refused(401, "send the publishing token: Authorization: Bearer <token>")
        return offered(stream, "whip", broadcasts, broadcasts.publish)

    @app.route("/whep/<stream>", methods=["POST", "OPTIONS"])
    def whep(stream):
        if request.method == "OPTIONS":
            return options("POST, OPTIONS")
        return offered(stream, "whep", broadcasts, broadcasts.watch)

    @app.route("/whip/<stream>/<session>", methods=["DELETE", "GET", "OPTIONS"])
    def whip_session(stream, session):
        if request.method == "OPTIONS":
            return options("DELETE, GET, OPTIONS")
        if not authorized(token):
            return refused(401, "send the publishing token: Authorization: Bearer <token>")
        if request.method == "GET":  # how many watch (a publisher without a data channel)
            count = broadcasts.run(broadcasts.viewer_count(stream, session))
            if count is None:
                return refused(404, "no such broadcast session")
            return cors(jsonify({"viewers": count}))
        return ended(broadcasts, stream, session)

    @app.route("/whep/<stream>/<session>", methods=["DELETE", "OPTIONS"])
    def whep_session(stream, session):
        if request.method == "OPTIONS":
            return options("DELETE, OPTIONS")
        return ended(broadcasts, stream, session)

    # For instructors and tests: how many aiortc connections and asyncio tasks are alive.
    app.get("/broadcast/stats")(lambda: broadcasts.run(broadcasts.count()))
    app.extensions["broadcasts"] = broadcasts
    app.extensions["banner"] = lambda urls: banner(urls, token)
    return app, None


def authorized(token):
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


def offered(stream, kind, broadcasts, accept):
    """Answers a WHIP or WHEP POST: checks the request, then `accept(stream, offer)`."""
    if not STREAM_NAME.fullmatch(stream):
        return refused(404, "a stream name is 1-64 letters, digits, '-' or '_'")
    if request.mimetype != "application/sdp":
        return refused(415, "send the offer as Content-Type: application/sdp")
    if (request.content_length or 0) > OFFER_MAX_BYTES:
        return refused(413, f"the offer is over {OFFER_MAX_BYTES} bytes")
    offer = request.get_data(as_text=True)
    if not offer.startswith("v=0") or "m=" not in offer:
        return refused(400, "the body is not an SDP offer (v=0 ... with m= lines)")
    offer = "\r\n".join(offer.splitlines()) + "\r\n"
    try:
        session, answer = broadcasts.run(accept(stream, offer))
    except Refused as err:
        log.info("%s offer for %s refused: %s %s", kind, stream, err.status, err.message)
        return refused(err.status, err.message)
    response = cors(Response(answer, 201, mimetype="application/sdp"))
    response.headers["Location"] = f"/{kind}/{stream}/{session}"
    for server in ice_servers(CLIENT):
        response.headers.add("Link", ice_server_link(server))
    return response


def ended(broadcasts, stream, session):
    if not broadcasts.run(broadcasts.end(stream, session)):
        return refused(404, "no such session: it ended, or the URL is not one this server gave")
    return cors(Response(status=200))


def ice_server_link(server):
    """RFC 9725, 4.4: an ICE server as a Link header, with its credentials if it has any."""
    links = []
    for url in server["urls"]:
        link = f'<{url}>; rel="ice-server"'
        if "username" in server:
            link += f'; username="{server["username"]}"; credential="{server["credential"]}"'
            link += '; credential-type="password"'
        links.append(link)
    return ", ".join(links)


def refused(status, message):
    response = cors(Response(message + "\n", status, mimetype="text/plain"))
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def options(methods):
    response = cors(Response(status=204))
    response.headers["Access-Control-Allow-Methods"] = methods
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Accept-Post"] = "application/sdp"
    return response


def cors(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Location, Link"
    return response


def banner(urls, token):
    """What `make run` prints for this step: both pages and both endpoints, with the token. The
    publisher opens this machine's own address (a camera needs a secure context, and localhost
    is one); viewers and other clients use its network address when it has one (HOST=0.0.0.0)."""
    here, there = urls[0], urls[-1]
    return [
        f"Publish: {here}#token={token}  (the token is in the link: keep it to yourself)",
        f"Watch:   {there}watch.html?stream=live",
        f"WHIP endpoint (GStreamer; VP8 only): {there}whip/live  with the bearer token {token}",
        f"WHEP endpoint (any WHEP player): {there}whep/live",
    ]
