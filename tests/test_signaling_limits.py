"""Abuse and faults against the real server process: foreign origins, oversize frames, clients
that vanish without a goodbye, and the cap on rooms."""

import contextlib
import json
import time
import urllib.request

import pytest
import websocket

from tests.server import Server, free_port
from tests.signaling_client import TIMEOUT, Member

FOREIGN = "http://evil.example"
SIGNALS_IN_ONE_POST = 40


def raw_socketio(url, origin=None, timeout=TIMEOUT, header=None):
    """A bare websocket speaking Engine.IO v4 / Socket.IO v5 by hand, connected to namespace /."""
    ws = websocket.create_connection(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        timeout=timeout,
        origin=origin or url,
        header=header,
    )
    assert ws.recv().startswith("0{")  # Engine.IO open
    ws.send("40")  # Socket.IO connect to /
    assert ws.recv().startswith("40{")
    return ws


def closed_by_server(ws):
    """True once the server closes `ws`; False if it is still open after the timeout."""
    try:
        while ws.recv():  # skips pings until the close
            pass
    except websocket.WebSocketTimeoutException:
        return False
    except (websocket.WebSocketConnectionClosedException, OSError):
        pass
    return True


def test_a_foreign_origin_is_refused(start_server):
    server = start_server(2)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        raw_socketio(server.url, origin=FOREIGN)
    assert refused.value.status_code == 400
    raw_socketio(server.url, origin=server.url).close()  # the page's own origin is welcome


def test_allowed_origins_adds_origins(start_server):
    server = start_server(2, ALLOWED_ORIGINS=f"{FOREIGN}, http://other.example")
    raw_socketio(server.url, origin=FOREIGN).close()
    raw_socketio(server.url, origin=server.url).close()
    with pytest.raises(websocket.WebSocketBadStatusException):
        raw_socketio(server.url, origin="http://third.example")


def test_websocket_compression_is_declined(start_server, room):
    # Browsers offer permessage-deflate; its zlib state would cost ~90 KiB per connection.
    server = start_server(2)
    offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
    ws = raw_socketio(server.url, header=[offer])
    try:
        assert ws.getstatus() == 101
        assert "sec-websocket-extensions" not in ws.getheaders()
        ws.send(f'420["join",{{"room":"{room}","name":"Ann"}}]')
        reply = ws.recv()
        assert reply.startswith("430[") and '"ok":true' in reply
    finally:
        ws.close()


def test_a_frame_of_megabytes_is_refused_and_the_server_carries_on(start_server, room):
    server = start_server(2)
    ann = Member(server.url)
    ann.join(room, "Ann")
    attacker = raw_socketio(server.url, timeout=30)  # sending megabytes on a busy machine
    huge = {"to": ann.id, "data": {"description": {"type": "offer", "sdp": "a" * (4 << 20)}}}
    # The server closes the attacker's connection instead of relaying or buffering the frame,
    # possibly before the whole frame has been sent.
    with contextlib.suppress(OSError):
        attacker.send("42" + json.dumps(["signal", huge]))
    assert closed_by_server(attacker)
    # Everyone else is fine, and answers come quickly.
    bob = Member(server.url)
    started = time.monotonic()
    bob.join(room, "Bob")
    assert time.monotonic() - started < 2
    assert ann.next_event() == ("peer-joined", {"id": bob.id, "name": "Bob"})
    ann.close()
    bob.close()


def test_a_member_that_vanishes_is_dropped_after_the_ping_timeout(start_server, room):
    server = start_server(2, PING_INTERVAL=1, PING_TIMEOUT=1)
    ann = Member(server.url)
    ann.join(room, "Ann")
    ghost = raw_socketio(server.url)
    ghost.send("420" + json.dumps(["join", {"room": room, "name": "Ghost"}]))
    reply = ghost.recv()
    while not reply.startswith("430"):  # skip the server's pings
        reply = ghost.recv()
    ack = json.loads(reply[3:])[0]
    assert ack["ok"] is True
    assert ann.next_event() == ("peer-joined", {"id": ack["id"], "name": "Ghost"})
    # The ghost never answers the server's pings (and never closes): it is dropped after about
    # ping interval + ping timeout = 2 s.
    started = time.monotonic()
    assert ann.next_event(timeout=10) == ("peer-left", {"id": ack["id"]})
    assert time.monotonic() - started < 6
    ghost.close()
    ann.close()


def test_the_number_of_rooms_is_capped(start_server, room):
    server = start_server(2, MAX_ROOMS=2)
    first, second, third = Member(server.url), Member(server.url), Member(server.url)
    first.join(room + "-1", "A")
    second.join(room + "-2", "B")
    refused = third.call("join", {"room": room + "-3", "name": "C"})
    assert refused["ok"] is False and refused["error"]["code"] == "room-full"
    third.join(room + "-1", "C")  # an existing room still takes members
    first.call("leave")
    third.call("leave")  # room 1 is now empty and gone: a new room fits again
    third.join(room + "-3", "C")
    for member in (first, second, third):
        member.close()


def test_an_unreachable_redis_is_a_clear_error_at_start(tmp_path):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(RuntimeError, match=f"REDIS_URL={nowhere}: cannot reach Redis"):
        Server(4, tmp_path, REDIS_URL=nowhere)
    with pytest.raises(RuntimeError, match="Step 6 runs as one process: unset REDIS_URL"):
        Server(6, tmp_path, REDIS_URL=nowhere)


def polling(url, sid=None, body=None):
    """One Engine.IO v4 long-polling request, as a page that has no WebSocket (yet) makes it."""
    query = f"{url}/socket.io/?EIO=4&transport=polling" + (f"&sid={sid}" if sid else "")
    request = urllib.request.Request(query, data=body and body.encode(), headers={"Origin": url})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return response.read().decode()


def test_a_burst_of_signals_in_one_long_polling_request_is_all_relayed(start_server, room):
    # socket.io sends everything a page queued in one POST while it is on long-polling (as it
    # is for a moment after each reconnect), and Firefox queues its offer and a dozen candidates
    # at once. Engine.IO's default refused more than 16 packets per request: the offer was lost.
    server = start_server(4)
    bob = Member(server.url)
    bob.join(room, "Bob")
    sid = json.loads(polling(server.url).removeprefix("0"))["sid"]
    polling(server.url, sid, "40")
    assert polling(server.url, sid).startswith("40")
    polling(server.url, sid, "420" + json.dumps(["join", {"room": room, "name": "Ann"}]))
    assert '"ok":true' in polling(server.url, sid)
    assert bob.next_event()[0] == "peer-joined"
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
    burst = [
        "42" + json.dumps(["signal", {"to": bob.id, "data": {"candidate": candidate}}])
        for _ in range(SIGNALS_IN_ONE_POST)
    ]
    assert polling(server.url, sid, "\x1e".join(burst)) == "OK"
    for _ in range(SIGNALS_IN_ONE_POST):
        assert bob.next_event()[0] == "signal"
    bob.close()
