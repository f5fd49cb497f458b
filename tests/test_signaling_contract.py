"""The signaling contract (docs/signaling-contract.md), rule by rule, against the real server with
a real python-socketio client.

Most rules are checked on three set-ups: step 2's server (rooms of two), a mesh step's (larger
rooms), and that mesh step as two processes sharing their rooms through Redis (REDIS_URL), where
members connect to the two processes in turn, so most exchanges cross from one to the other.
"Nothing was relayed" is shown without sleeping: signals from one sender arrive in order, so when
a marker signal sent afterwards is the next event the target sees, nothing came before it.
"""

import base64
import json
import re
import threading
from types import SimpleNamespace

import pytest

from step12_lobby.server import REQUEST_BURST
from tests.signaling_client import Member

OFFER = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
CANDIDATE = {"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}}
INVITE = {"call": {"type": "invite", "id": "c4ll-ID_1"}}
SERVERS = {
    "two": {"step": 2, "capacity": 2},
    "mesh": {"step": 4, "capacity": 8},
    "shared": {"step": 4, "capacity": 8, "processes": 2},
}


@pytest.fixture(params=SERVERS, ids=list(SERVERS))
def server(request, start_server):
    """The set-up under test: `urls` of its processes, `url` of the first, and room `capacity`."""
    config = SERVERS[request.param]
    if config.get("processes"):
        urls = [process.url for process in request.getfixturevalue("shared_step4")]
    else:
        urls = [start_server(config["step"]).url]
    return SimpleNamespace(urls=urls, url=urls[0], capacity=config["capacity"])


@pytest.fixture
def connect(server):
    members = []

    def new_member():
        member = Member(server.urls[len(members) % len(server.urls)])
        members.append(member)
        return member

    yield new_member
    for member in members:
        member.close()


@pytest.fixture
def pair(connect, room):
    """Two members of one room; the first has already seen the second arrive."""
    ann, bob = connect(), connect()
    ann.join(room, "Ann")
    bob.join(room, "Bob")
    assert ann.next_event() == ("peer-joined", {"id": bob.id, "name": "Bob"})
    return ann, bob


def error_code(ack):
    assert ack["ok"] is False, ack
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]
    return ack["error"]["code"]


def expect_only_marker(sender, target):
    """Sends a marker signal and checks it is the very next event the target receives."""
    marker = {"candidate": {"candidate": "marker", "sdpMid": "0"}}
    assert sender.signal(target.id, marker) == {"ok": True}
    assert target.next_event() == ("signal", {"from": sender.id, "data": marker})


# --- join ---------------------------------------------------------------------------------------


def test_join_acknowledges_with_id_peers_and_ice_servers(connect, room):
    ann, bob = connect(), connect()
    first = ann.call("join", {"room": room, "name": "Ann"})
    assert first["ok"] is True
    assert isinstance(first["id"], str) and first["id"]
    assert first["peers"] == []
    assert first["iceServers"] == []

    second = bob.call("join", {"room": room, "name": "Bob"})
    assert second["peers"] == [{"id": first["id"], "name": "Ann"}]
    assert second["id"] != first["id"]
    assert ann.next_event() == ("peer-joined", {"id": second["id"], "name": "Bob"})


def test_name_is_trimmed(connect, room):
    ann, bob = connect(), connect()
    ann.join(room, "Ann")
    bob.join(room, "   Bob  ")
    assert ann.next_event() == ("peer-joined", {"id": bob.id, "name": "Bob"})


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Ann"},
        {"room": "", "name": "Ann"},
        {"room": "a" * 65, "name": "Ann"},
        {"room": "has space", "name": "Ann"},
        {"room": "dots.not.allowed", "name": "Ann"},
        {"room": "émoji", "name": "Ann"},
        {"room": 42, "name": "Ann"},
        {"room": "ok"},
        {"room": "ok", "name": ""},
        {"room": "ok", "name": "    "},
        {"room": "ok", "name": "x" * 33},
        {"room": "ok", "name": "tab\there"},
        {"room": "ok", "name": "new\nline"},
        {"room": "ok", "name": "nul\x00"},
        {"room": "ok", "name": ["Ann"]},
        "just a string",
        ["room", "name"],
        None,
        12,
    ],
)
def test_malformed_join_is_invalid_and_changes_nothing(connect, payload):
    member = connect()
    assert error_code(member.emit_raw("join", payload)) == "invalid"
    # Nothing changed: the same connection can still join normally.
    assert member.call("join", {"room": "ok-after-invalid", "name": "Ann"})["ok"] is True
    member.call("leave")


def test_join_with_no_payload_or_two_payloads_is_invalid(connect):
    member = connect()
    assert error_code(member.emit_raw("join")) == "invalid"
    assert error_code(member.emit_raw("join", {"room": "r", "name": "a"}, {"x": 1})) == "invalid"


def test_limits_are_inclusive(connect):
    member = connect()
    assert member.call("join", {"room": "R" * 64, "name": "N" * 32})["ok"] is True


def test_names_are_unique_in_a_room_ignoring_case(connect, room):
    ann, other, elsewhere = connect(), connect(), connect()
    ann.join(room, "Ann")
    assert error_code(other.call("join", {"room": room, "name": "aNN"})) == "name-taken"
    elsewhere.join(room + "-other", "Ann")  # another room may use the name
    other.join(room, "Ann2")  # the refused connection was left free to join
    assert ann.next_event() == ("peer-joined", {"id": other.id, "name": "Ann2"})


def test_joining_twice_is_refused(connect, room):
    ann = connect()
    ann.join(room, "Ann")
    assert error_code(ann.call("join", {"room": room + "x", "name": "Ann"})) == "already-joined"
    assert error_code(ann.call("join", {"room": room, "name": "Other"})) == "already-joined"


def test_room_capacity_is_enforced(server, connect, room):
    members = [connect() for _ in range(server.capacity)]
    for number, member in enumerate(members):
        member.join(room, f"user{number}")
    late = connect()
    assert error_code(late.call("join", {"room": room, "name": "late"})) == "room-full"
    # Nothing changed: the first member sees the next real departure, not the refused join.
    members[-1].call("leave")
    events = [members[0].next_event() for _ in range(server.capacity)]
    assert events[-1] == ("peer-left", {"id": members[-1].id})
    assert all(name != "peer-joined" or data["name"] != "late" for name, data in events)
    # A place is free again.
    assert late.call("join", {"room": room, "name": "late"})["ok"] is True


def test_simultaneous_joins_give_everyone_the_same_room(server, connect, room):
    members = [connect() for _ in range(server.capacity)]
    acks = [None] * len(members)

    def join(index):
        acks[index] = members[index].call("join", {"room": room, "name": f"user{index}"})

    threads = [threading.Thread(target=join, args=(i,)) for i in range(len(members))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = {ack["id"] for ack in acks}
    assert len(ids) == len(members)
    for member, ack in zip(members, acks, strict=True):
        seen = [peer["id"] for peer in ack["peers"]]
        later = len(members) - 1 - len(seen)  # one peer-joined for each later member
        seen += [data["id"] for event, data in (member.next_event() for _ in range(later))]
        assert sorted(seen) == sorted(ids - {ack["id"]})
    # No duplicate or stray announcement follows: the next event everyone sees is this leave.
    members[0].call("leave")
    for member in members[1:]:
        assert member.next_event() == ("peer-left", {"id": acks[0]["id"]})


# --- signal -------------------------------------------------------------------------------------


def test_signal_is_delivered_to_the_target_only_with_server_stamped_sender(server, connect, room):
    ann, bob = connect(), connect()
    ann.join(room, "Ann")
    bob.join(room, "Bob")
    ann.next_event()
    ack = ann.call("signal", {"to": bob.id, "from": "someone-else", "data": OFFER})
    assert ack == {"ok": True}
    assert bob.next_event() == ("signal", {"from": ann.id, "data": OFFER})
    # Ann got nothing back but her ack: the next thing she sees is Bob's reply.
    expect_only_marker(bob, ann)


@pytest.mark.parametrize(
    "kind", ["invite", "accept", "decline", "busy", "cancel", "hang-up", "in-call", "call-ended"]
)
def test_call_control_is_relayed_like_any_signal(pair, kind):
    ann, bob = pair
    call = {"call": {"type": kind, "id": "x" * 64}}
    assert ann.call("signal", {"to": bob.id, "from": "someone-else", "data": call}) == {"ok": True}
    assert bob.next_event() == ("signal", {"from": ann.id, "data": call})
    expect_only_marker(bob, ann)


def test_signal_before_join_is_refused(pair, connect):
    ann, _ = pair
    stranger = connect()
    assert error_code(stranger.signal(ann.id, OFFER)) == "not-joined"
    expect_only_marker(pair[1], ann)


def test_signal_to_unknown_or_self_is_refused(pair):
    ann, bob = pair
    assert error_code(ann.signal("no-such-id", OFFER)) == "unknown-peer"
    assert error_code(ann.signal(ann.id, OFFER)) == "unknown-peer"
    expect_only_marker(ann, bob)


def test_rooms_are_isolated(pair, connect, room):
    ann, bob = pair
    outsider = connect()
    outsider.join(room + "-elsewhere", "Out")
    assert error_code(outsider.signal(ann.id, OFFER)) == "unknown-peer"
    assert error_code(ann.signal(outsider.id, OFFER)) == "unknown-peer"
    expect_only_marker(bob, ann)
    # The outsider heard nothing of the other room: its next event is one meant for it.
    neighbour = connect()
    neighbour.join(room + "-elsewhere", "Nei")
    assert outsider.next_event() == ("peer-joined", {"id": neighbour.id, "name": "Nei"})


@pytest.mark.parametrize(
    "payload",
    [
        {"data": OFFER},
        {"to": 7, "data": OFFER},
        {"to": "PEER"},
        {"to": "PEER", "data": "text"},
        {"to": "PEER", "data": {}},
        {"to": "PEER", "data": {"hello": 1}},
        {"to": "PEER", "data": {**OFFER, **CANDIDATE}},
        {"to": "PEER", "data": {"description": "v=0"}},
        {"to": "PEER", "data": {"description": {"type": "bogus", "sdp": ""}}},
        {"to": "PEER", "data": {"description": {"type": "offer", "sdp": 5}}},
        {"to": "PEER", "data": {"description": {"sdp": "v=0"}}},
        {"to": "PEER", "data": {"candidate": "candidate:1"}},
        {"to": "PEER", "data": {"candidate": {"sdpMid": "0"}}},
        {"to": "PEER", "data": {**OFFER, **INVITE}},
        {"to": "PEER", "data": {"call": "invite"}},
        {"to": "PEER", "data": {"call": {"type": "invite"}}},
        {"to": "PEER", "data": {"call": {"id": "c1"}}},
        {"to": "PEER", "data": {"call": {"type": "ring", "id": "c1"}}},
        {"to": "PEER", "data": {"call": {"type": ["invite"], "id": "c1"}}},
        {"to": "PEER", "data": {"call": {"type": "invite", "id": ""}}},
        {"to": "PEER", "data": {"call": {"type": "invite", "id": "a b"}}},
        {"to": "PEER", "data": {"call": {"type": "invite", "id": "x" * 65}}},
        {"to": "PEER", "data": {"call": {"type": "invite", "id": 7}}},
        {"to": "PEER", "data": {"call": {"type": "invite", "id": "c1", "from": "Eve"}}},
        "text",
        None,
    ],
)
def test_malformed_signal_is_invalid_and_not_relayed(pair, payload):
    ann, bob = pair
    if isinstance(payload, dict) and payload.get("to") == "PEER":
        payload = {**payload, "to": bob.id}
    assert error_code(ann.emit_raw("signal", payload)) == "invalid"
    expect_only_marker(ann, bob)


def test_signal_size_limit_is_64_kib_of_serialized_data(pair):
    ann, bob = pair

    def description_of_size(size):
        data = {"description": {"type": "offer", "sdp": ""}}
        data["description"]["sdp"] = "a" * (size - len(json.dumps(data, separators=(",", ":"))))
        return data

    largest = description_of_size(64 * 1024)
    assert ann.signal(bob.id, largest) == {"ok": True}
    assert bob.next_event() == ("signal", {"from": ann.id, "data": largest})
    assert error_code(ann.signal(bob.id, description_of_size(64 * 1024 + 1))) == "too-large"
    expect_only_marker(ann, bob)


def test_signals_from_one_sender_arrive_in_order(pair):
    ann, bob = pair
    count = 300
    acks = []
    for number in range(count):
        data = {"candidate": {"candidate": f"candidate:{number}", "sdpMid": "0"}}
        ann.sio.emit("signal", {"to": bob.id, "data": data}, callback=acks.append)
    received = [bob.next_event() for _ in range(count)]
    assert [data["data"]["candidate"]["candidate"] for _, data in received] == [
        f"candidate:{number}" for number in range(count)
    ]
    assert all(event == "signal" and data["from"] == ann.id for event, data in received)
    expect_only_marker(ann, bob)  # its ack comes after all 300 of the earlier acks
    assert acks == [{"ok": True}] * count


# --- leave and disconnect -----------------------------------------------------------------------


def test_leave_tells_the_others_and_frees_the_name(pair, connect, room):
    ann, bob = pair
    old_id = bob.id
    assert bob.call("leave") == {"ok": True}
    assert ann.next_event() == ("peer-left", {"id": old_id})
    assert error_code(bob.signal(ann.id, OFFER)) == "not-joined"
    assert error_code(ann.signal(old_id, OFFER)) == "unknown-peer"

    bob.join(room, "Bob")  # a member who comes back gets a new id
    assert bob.id != old_id
    assert ann.next_event() == ("peer-joined", {"id": bob.id, "name": "Bob"})


def test_leave_without_joining_is_harmless(connect):
    assert connect().call("leave") == {"ok": True}


def test_disconnect_is_a_leave(pair, connect, room):
    ann, bob = pair
    bob.close()
    assert ann.next_event() == ("peer-left", {"id": bob.id})
    newcomer = connect()
    newcomer.join(room, "Bob")  # the name was freed
    assert newcomer.id != bob.id


# --- rate limit ---------------------------------------------------------------------------------


def test_signals_over_the_rate_limit_are_refused(start_server, room):
    server = start_server(2, SIGNAL_BURST=5, SIGNAL_RATE=0.01)
    ann, bob = Member(server.url), Member(server.url)
    try:
        ann.join(room, "Ann")
        bob.join(room, "Bob")
        acks = [ann.signal(bob.id, CANDIDATE) for _ in range(6)]
        assert acks[:5] == [{"ok": True}] * 5
        assert error_code(acks[5]) == "rate-limited"
        assert [bob.next_event()[0] for _ in range(5)] == ["signal"] * 5
        # Bob's own budget is his: he can still answer.
        assert bob.signal(ann.id, CANDIDATE) == {"ok": True}
        assert ann.next_event() == ("peer-joined", {"id": bob.id, "name": "Bob"})
        assert ann.next_event() == ("signal", {"from": bob.id, "data": CANDIDATE})
    finally:
        ann.close()
        bob.close()


# --- the lobby (step 12) ------------------------------------------------------------------------
# On step 12's server alone, and as two processes sharing their rooms through Redis, where the
# watcher and the members are on different processes.

PRIVATE_ROOM = re.compile(r"private-([A-Za-z0-9_-]{22})")
LOBBY_SERVERS = ["one", "shared"]


@pytest.fixture(params=LOBBY_SERVERS)
def lobby_connect(request, start_server):
    """lobby_connect() -> a new Member of step 12's server, on each process in turn."""
    if request.param == "shared":
        urls = [process.url for process in request.getfixturevalue("shared_step12")]
    else:
        urls = [start_server(12).url]
    members = []

    def new_member():
        members.append(Member(urls[len(members) % len(urls)]))
        return members[-1]

    yield new_member
    for member in members:
        member.close()


def watch(member):
    ack = member.call("watch-lobby")
    assert ack["ok"] is True, ack
    assert set(ack) == {"ok", "capacity", "version", "total", "rooms"}
    return ack


def next_listing(watcher, until, seen=None):
    """The first list pushed to `watcher` for which `until(rooms)` holds, rooms being
    {name: members}; lists pushed before it (other tests' rooms closing) are skipped, and kept
    in `seen` if given."""
    for _ in range(50):
        event, listing = watcher.next_event()
        assert event == "lobby", (event, listing)
        if seen is not None:
            seen.append(listing)
        rooms = {entry["room"]: entry["members"] for entry in listing["rooms"]}
        if until(rooms):
            return listing
    raise AssertionError("the list never showed the change")


def test_the_lobby_gives_the_list_then_pushes_each_change(lobby_connect, room):
    watcher = lobby_connect()
    first = watch(watcher)
    assert room not in {entry["room"] for entry in first["rooms"]}
    assert first["capacity"] == 8
    ann, bob = lobby_connect(), lobby_connect()

    ann.join(room, "Ann")
    one = next_listing(watcher, lambda rooms: rooms.get(room) == 1)
    assert one["version"] > first["version"]
    assert one["total"] >= 1
    bob.join(room, "Bob")
    next_listing(watcher, lambda rooms: rooms.get(room) == 2)
    assert ann.call("leave") == {"ok": True}
    next_listing(watcher, lambda rooms: rooms.get(room) == 1)
    bob.close()  # a room that empties leaves the list
    next_listing(watcher, lambda rooms: room not in rooms)


def test_the_lobby_names_rooms_and_counts_never_members(lobby_connect, room):
    watcher, ann = lobby_connect(), lobby_connect()
    watch(watcher)
    ack = ann.join(room, "Secret Sam")
    listing = next_listing(watcher, lambda rooms: rooms.get(room) == 1)
    for entry in listing["rooms"]:
        assert set(entry) == {"room", "members"}
    text = json.dumps(listing)
    assert "Secret Sam" not in text
    assert ack["id"] not in text


def test_private_rooms_are_unguessable_and_never_listed(lobby_connect, room):
    watcher, ann, bob = lobby_connect(), lobby_connect(), lobby_connect()
    seen = [watch(watcher)]
    names = [ann.call("private-room")["room"] for _ in range(3)]
    assert len(set(names)) == 3
    for name in names:
        random_part = PRIVATE_ROOM.fullmatch(name).group(1)
        assert len(base64.urlsafe_b64decode(random_part + "==")) * 8 >= 96

    ann.join(names[0], "Ann")
    bob.join(names[0], "Bob")  # by its link
    assert ann.next_event() == ("peer-joined", {"id": bob.id, "name": "Bob"})
    # A public room made after them is pushed; the private room was on no list before it.
    lobby_connect().join(room, "Cat")
    next_listing(watcher, lambda rooms: room in rooms, seen)
    listed = {entry["room"] for listing in seen for entry in listing["rooms"]}
    assert not any(PRIVATE_ROOM.fullmatch(name) for name in listed)


def test_unwatching_stops_the_pushes(lobby_connect, room):
    watcher, quitter, ann = lobby_connect(), lobby_connect(), lobby_connect()
    watch(watcher)
    watch(quitter)
    assert quitter.call("unwatch-lobby") == {"ok": True}
    while not quitter.received.empty():  # lists pushed before (other tests' rooms closing)
        quitter.received.get()
    ann.join(room, "Ann")
    next_listing(watcher, lambda rooms: room in rooms)
    # The watcher's copy has come, so the quitter's would have by the time its next request is
    # answered. That request must not be watch-lobby, which subscribes again: a push for any other
    # test's room after it would then be the quitter's by right.
    assert quitter.call("unwatch-lobby") == {"ok": True}
    assert quitter.received.empty()
    assert room in {entry["room"] for entry in watch(quitter)["rooms"]}


def test_lobby_requests_over_the_rate_limit_are_refused_and_rooms_in_use_go_on(
    request, start_server, room
):
    server = start_server(12, LOBBY_REQUEST_RATE=0.01)
    ann, bob, flood = Member(server.url), Member(server.url), Member(server.url)
    request.addfinalizer(lambda: [member.close() for member in (ann, bob, flood)])
    ann.join(room, "Ann")
    bob.join(room, "Bob")
    assert ann.next_event() == ("peer-joined", {"id": bob.id, "name": "Bob"})

    acks = [flood.call("private-room") for _ in range(REQUEST_BURST)]
    assert all(ack["ok"] for ack in acks)
    for event, payload in [
        ("private-room", None),
        ("join", {"room": room, "name": "Flood"}),
        ("watch-lobby", None),
    ]:
        assert error_code(flood.call(event, payload)) == "rate-limited"
    assert error_code(flood.signal(ann.id, CANDIDATE)) == "not-joined"  # the join changed nothing

    # The room already in use goes on: signals both ways, and the members' own lobby requests.
    assert ann.signal(bob.id, CANDIDATE) == {"ok": True}
    assert bob.next_event() == ("signal", {"from": ann.id, "data": CANDIDATE})
    assert bob.signal(ann.id, OFFER) == {"ok": True}
    assert ann.next_event() == ("signal", {"from": bob.id, "data": OFFER})
    watch(ann)


def test_a_quiet_lobby_pushes_nothing(own_server, room):
    server = own_server(12)
    watcher, ann, bob, cat = (Member(server.url) for _ in range(4))
    try:
        watch(watcher)
        ann.join(room, "Ann")
        before = next_listing(watcher, lambda rooms: room in rooms)
        # Nothing here changes a listed room: signals in it, refused joins, a private room.
        bob.join(room, "Bob")
        after_bob = next_listing(watcher, lambda rooms: rooms.get(room) == 2)
        assert after_bob["version"] == before["version"] + 1
        assert ann.signal(bob.id, CANDIDATE) == {"ok": True}
        assert error_code(cat.call("join", {"room": room, "name": "ann"})) == "name-taken"
        assert error_code(cat.call("join", {"room": "no spaces", "name": "Cat"})) == "invalid"
        cat.join(cat.call("private-room")["room"], "Cat")
        # So the next list the watcher gets is the next change's, one version on, and none came
        # between.
        cat.call("leave")
        dan = Member(server.url)
        dan.join(room + "-next", "Dan")
        event, listing = watcher.next_event()
        assert event == "lobby"
        assert listing["version"] == after_bob["version"] + 1
        assert {entry["room"] for entry in listing["rooms"]} == {room, room + "-next"}
        dan.close()
    finally:
        for member in (watcher, ann, bob, cat):
            member.close()


def test_the_list_is_bounded_busiest_first(own_server, room):
    server = own_server(12, LOBBY_MAX=3)
    sizes = {"a": 1, "b": 3, "c": 2, "d": 1, "e": 2}
    members = []
    try:
        for suffix, size in sizes.items():
            for n in range(size):
                members.append(Member(server.url))
                members[-1].join(f"{room}-{suffix}", f"M{n}")
        listing = watch(Member(server.url))
        assert listing["total"] == 5
        assert listing["rooms"] == [
            {"room": f"{room}-b", "members": 3},
            {"room": f"{room}-c", "members": 2},
            {"room": f"{room}-e", "members": 2},
        ]
    finally:
        for member in members:
            member.close()
