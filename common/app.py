"""The app factory every step uses: it serves the step's page, the shared browser files and the
socket.io client, and (from step 2 on) the signaling server.

Plumbing only: the lesson of each step lives in its own folder.
"""

import os
from pathlib import Path

from engineio.payload import Payload
from flask import Flask, abort, send_from_directory
from flask_socketio import SocketIO

from common import shared_rooms, signaling

ROOT = Path(__file__).resolve().parent.parent
COMMON_STATIC = ROOT / "common" / "static"
# socket.io's browser client, a pinned release kept in the repository (its README says which).
SOCKETIO_CLIENT = COMMON_STATIC / "vendor" / "socket.io"
PAGE_FILES = {".html", ".js", ".css", ".svg", ".png"}
# A 64 KiB signal, escaped and wrapped in its event, fits; a frame of megabytes is refused.
MAX_FRAME_BYTES = 256 * 1024
# On long-polling (for a moment after each reconnect) socket.io sends everything a page queued in
# one request, and a page queues its offer and all its candidates at once: Firefox easily a dozen
# per peer. Engine.IO drops a request of over 16 packets whole, offer included. The request stays
# bounded by MAX_FRAME_BYTES, and the signals in it by the rate limit.
Payload.max_decode_packets = 1000


def env_number(name, default, kind=int):
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return kind(value)
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {value!r}") from None


def allowed_origins():
    return {
        o.strip().rstrip("/") for o in os.environ.get("ALLOWED_ORIGINS", "").split(",") if o.strip()
    }


def origin_checker(extra):
    """socket.io accepts the page's own origin, plus those listed in ALLOWED_ORIGINS."""

    def allow(origin, environ):
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin in extra

    return allow


def create_app(step_dir, room_capacity=None, relay=None, on_depart=None, listed=None):
    """Builds the app for the step in `step_dir`; with `room_capacity`, it also runs a socket.io
    server on which `relay(socketio, rooms, on_depart)` registers the signaling events (step 2's
    server.py). `listed(room)` says which rooms a lobby lists (step 12).

    Returns (app, socketio); socketio is None for a step without signaling. The signaling state
    is `app.extensions["rooms"]`; the functions in `app.extensions["on_stop"]` run when the
    server stops (common/run.py); the page comes from `app.extensions["pages"]`.
    """
    step_dir = Path(step_dir).resolve()
    app = Flask(step_dir.name, root_path=str(step_dir), static_folder=None)
    app.extensions["pages"] = pages_folder(step_dir)
    add_page_routes(app, app.extensions["pages"])
    if room_capacity is None:
        return app, None
    redis_url = os.environ.get("REDIS_URL") or None
    socketio = SocketIO(
        app,
        async_mode="threading",
        # With REDIS_URL, several processes share the rooms: emits pass through Redis.
        message_queue=redis_url,
        # Handle each client's events one after another, so signals keep their order.
        async_handlers=False,
        max_http_buffer_size=MAX_FRAME_BYTES,
        # A member whose connection vanished without a goodbye is dropped within 15 s.
        ping_interval=env_number("PING_INTERVAL", 10, float),
        ping_timeout=env_number("PING_TIMEOUT", 5, float),
        cors_allowed_origins=origin_checker(allowed_origins()),
    )
    limits = dict(
        capacity=env_number("MAX_ROOM_SIZE", room_capacity),
        max_rooms=env_number("MAX_ROOMS", 1000),
        signal_rate=env_number("SIGNAL_RATE", 50.0, float),
        signal_burst=env_number("SIGNAL_BURST", 400.0, float),
        listed=listed,
    )
    if redis_url:
        rooms = shared_rooms.SharedRooms(redis_url, f"signaling:{step_dir.name}", **limits)
    else:
        rooms = signaling.Rooms(**limits)
    depart_everyone = relay(socketio, rooms, on_depart)
    if redis_url:
        # Rooms outlive this process in Redis: when it stops, its members must leave them.
        app.extensions["on_stop"] = [depart_everyone]
    app.wsgi_app = without_websocket_compression(app.wsgi_app)
    app.extensions["rooms"] = rooms
    # How many rooms and members there are (counts only): for instructors and the soak benchmark.
    app.get("/stats")(rooms.counts)
    return app, socketio


def without_websocket_compression(wsgi_app):
    """Declines permessage-deflate, which simple-websocket would accept whenever a client offers
    it. Its zlib state cost about 90 KiB per connection and compressing every small signal about a
    quarter of the throughput (bench/signaling_capacity.py); Node's socket.io leaves it off too."""

    def app(environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return wsgi_app(environ, start_response)

    return app


def pages_folder(step_dir):
    """Where the step's page comes from. The learner's work copy (work/<step folder>/, made by
    `make work`) while there is one, unless SOLUTION=1 asks for the finished step; PAGES=work
    (`make check`) insists on the work copy, PAGES=solution (the tests) on the finished step."""
    work = work_root() / step_dir.name
    wanted = os.environ.get("PAGES") or ("solution" if env_flag("SOLUTION") else "auto")
    if wanted == "work" and not (work / "index.html").is_file():
        number = step_dir.name[4 : step_dir.name.index("_")]
        raise SystemExit(f"No work copy in {work}: make one with STEP={number} make work")
    if wanted == "solution" or not (work / "index.html").is_file():
        return step_dir
    return work


def work_root():
    """Where work copies live: work/, or WORK_DIR (the exercise proofs use their own folder)."""
    return Path(os.environ.get("WORK_DIR") or ROOT / "work")


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0")


def add_page_routes(app, step_dir):
    @app.get("/")
    def index():
        return send_from_directory(step_dir, "index.html")

    @app.get("/<name>")
    def page_file(name):
        if Path(name).suffix not in PAGE_FILES:
            abort(404)
        return send_from_directory(step_dir, name)

    # Browsers ask for it on every page; without it, DevTools opens on a red 404.
    @app.get("/favicon.ico")
    def favicon():
        return send_from_directory(COMMON_STATIC, "favicon.svg", mimetype="image/svg+xml")

    @app.get("/common/<path:name>")
    def common_file(name):
        return send_from_directory(COMMON_STATIC, name)

    @app.get("/vendor/socket.io/<name>")
    def socketio_client(name):
        return send_from_directory(SOCKETIO_CLIENT, name)
