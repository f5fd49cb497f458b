"""Property-based tests: arbitrary JSON thrown at every handler of the signaling server.

Whatever arrives, each handler answers with an acknowledgement, every refusal carries a documented
error code, a refused request changes no state and relays nothing, and an accepted one does exactly
what the contract says. The server runs in-process through Flask-SocketIO's test client, so
thousands of events take seconds.
"""

import copy
import json
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from step2_two_users import server as step2_server

ERROR_CODES = {
    "invalid",
    "room-full",
    "name-taken",
    "already-joined",
    "not-joined",
    "unknown-peer",
    "too-large",
    "rate-limited",
}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
rooms = st.text(max_size=70) | st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
names = st.text(max_size=40) | st.sampled_from(["Ann", "ann", " Ann ", "Bob"])
join_payloads = json_values | st.fixed_dictionaries(
    {}, optional={"room": rooms | json_values, "name": names | json_values}
)
descriptions = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["offer", "answer", "rollback"]) | json_values,
        "sdp": st.text() | json_values,
    },
)
candidates = st.fixed_dictionaries(
    {}, optional={"candidate": st.text() | json_values, "sdpMid": json_values}
)
signal_data = json_values | st.dictionaries(
    st.sampled_from(["description", "candidate", "other"]),
    descriptions | candidates | json_values,
    max_size=2,
)
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("SIGNAL_BURST", "1000000")  # the rate limit has its own test
    app, socketio = step2_server.create()
    clients = []

    def connect():
        client = socketio.test_client(app)
        clients.append(client)
        return client

    yield app.extensions["rooms"], connect
    for client in clients:
        if client.is_connected():
            client.disconnect()


def snapshot(rooms):
    return copy.deepcopy({room: sorted(members) for room, members in rooms.rooms.items()}), sorted(
        rooms.by_sid
    )


def check_ack(ack):
    assert isinstance(ack, dict), ack
    if ack["ok"] is False:
        assert set(ack) == {"ok", "error"}
        assert ack["error"]["code"] in ERROR_CODES
        assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]
    else:
        assert ack["ok"] is True
    return ack


def join_is_valid(payload):
    if not isinstance(payload, dict):
        return False
    room, name = payload.get("room"), payload.get("name")
    return (
        isinstance(room, str)
        and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", room) is not None
        and isinstance(name, str)
        and 1 <= len(name.strip()) <= 32
        and name.strip().isprintable()
    )


def signal_is_valid(data):
    if not isinstance(data, dict) or len(data) != 1:
        return False
    if "description" in data:
        description = data["description"]
        valid = (
            isinstance(description, dict)
            and description.get("type") in ("offer", "answer", "pranswer", "rollback")
            and isinstance(description.get("sdp", ""), str)
        )
    else:
        candidate = data.get("candidate")
        valid = isinstance(candidate, dict) and isinstance(candidate.get("candidate"), str)
    return valid and len(json.dumps(data, separators=(",", ":")).encode()) <= 64 * 1024


@settings(max_examples=300, deadline=None, suppress_health_check=HEALTH)
@given(payload=join_payloads)
def test_join_accepts_exactly_the_valid_payloads(server, payload):
    rooms, connect = server
    watcher, client = connect(), connect()
    before = snapshot(rooms)
    ack = check_ack(client.emit("join", payload, callback=True))
    assert ack["ok"] == join_is_valid(payload)
    if ack["ok"]:
        assert ack["peers"] == [] and ack["iceServers"] == []
        assert rooms.counts()["members"] == 1
    else:
        assert snapshot(rooms) == before
    client.disconnect()
    assert rooms.counts() == {"rooms": 0, "members": 0}
    assert watcher.get_received() == []


@settings(max_examples=300, deadline=None, suppress_health_check=HEALTH)
@given(to=json_values | st.sampled_from(["PEER", "SELF"]), data=signal_data)
def test_signal_relays_exactly_the_valid_payloads(server, to, data):
    rooms, connect = server
    ann, bob = connect(), connect()
    room = uuid.uuid4().hex
    ann_id = check_ack(ann.emit("join", {"room": room, "name": "Ann"}, callback=True))["id"]
    bob_id = check_ack(bob.emit("join", {"room": room, "name": "Bob"}, callback=True))["id"]
    ann.get_received(), bob.get_received()
    to = {"PEER": bob_id, "SELF": ann_id}.get(to, to) if isinstance(to, str) else to
    before = snapshot(rooms)

    ack = check_ack(ann.emit("signal", {"to": to, "data": data}, callback=True))

    assert snapshot(rooms) == before
    assert ann.get_received() == []
    received = bob.get_received()
    assert ack["ok"] == (to == bob_id and signal_is_valid(data))
    if ack["ok"]:
        assert received == [
            {"name": "signal", "args": [{"from": ann_id, "data": data}], "namespace": "/"}
        ]
    else:
        assert received == []
    ann.disconnect()
    bob.disconnect()


@settings(max_examples=200, deadline=None, suppress_health_check=HEALTH)
@given(event=st.sampled_from(["join", "signal", "leave"]), args=st.lists(json_values, max_size=3))
def test_any_arguments_get_an_answer_and_never_an_exception(server, event, args):
    rooms, connect = server
    client = connect()
    ack = check_ack(client.emit(event, *args, callback=True))
    if event == "leave":
        assert ack == {"ok": True}
    client.disconnect()
    assert rooms.counts() == {"rooms": 0, "members": 0}


def test_an_unknown_event_changes_nothing(server):
    rooms, connect = server
    client = connect()
    assert client.emit("hello", {"room": "x"}, callback=True) is None
    assert client.is_connected()
    assert rooms.counts() == {"rooms": 0, "members": 0}
