"""The server's room state on its own: membership rules, cleanup and the signal rate limit."""

import threading

import pytest

from common.signaling import (
    Announcements,
    Rooms,
    SignalingError,
    TokenBucket,
    clean_name,
    clean_signal_data,
)


def test_state_is_removed_when_members_leave():
    rooms = Rooms(capacity=3)
    ann, _ = rooms.join("sid-ann", "lobby", "Ann")
    bob, peers = rooms.join("sid-bob", "lobby", "Bob")
    assert peers == [ann]
    assert rooms.counts() == {"rooms": 1, "members": 2}

    assert rooms.leave("sid-ann") == (ann, [bob])
    assert rooms.leave("sid-ann") == (None, [])  # a second leave (or disconnect after it): no-op
    assert rooms.leave("sid-bob") == (bob, [])
    assert rooms.counts() == {"rooms": 0, "members": 0}
    assert rooms.rooms == {} and rooms.by_sid == {}


def test_a_refused_join_changes_nothing():
    rooms = Rooms(capacity=1)
    rooms.join("sid-ann", "lobby", "Ann")
    before = (dict(rooms.rooms["lobby"]), dict(rooms.by_sid))
    for sid, room, name, code in [
        ("sid-bob", "lobby", "Bob", "room-full"),
        ("sid-ann", "other", "Ann", "already-joined"),
    ]:
        with pytest.raises(SignalingError) as refused:
            rooms.join(sid, room, name)
        assert refused.value.code == code
    assert (rooms.rooms["lobby"], rooms.by_sid) == before
    assert rooms.counts() == {"rooms": 1, "members": 1}


def test_member_ids_are_unique_and_opaque():
    rooms = Rooms(capacity=100)
    ids = {rooms.join(f"sid-{n}", "big", f"user{n}")[0].id for n in range(100)}
    assert len(ids) == 100
    assert not any(f"sid-{n}" in member_id for n, member_id in enumerate(ids))


def test_names_are_trimmed_and_checked():
    assert clean_name("  Ann ") == "Ann"
    assert clean_name("Zoë 🦊") == "Zoë 🦊"
    for bad in ["", "  ", "x" * 33, "a\tb", "\u200bzero-width", None, 5]:
        with pytest.raises(SignalingError):
            clean_name(bad)


def test_rollback_and_end_of_candidates_are_valid_signals():
    assert clean_signal_data({"description": {"type": "rollback"}})
    assert clean_signal_data({"candidate": {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}})


def test_token_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    bucket.stamp -= 0.1  # as if 0.1 s had passed: one token back at 10 per second
    assert bucket.take() is True
    assert bucket.take() is False


def test_news_is_queued_without_waiting_and_sent_in_order():
    """A join's news waits for no delivery under way (step 2's lock is not held for emits), goes
    out after the news queued before it, and its handler returns only once it is out."""
    delivered, slow = [], threading.Event()

    def deliver(member, event, message):
        if message == "hangs":
            slow.wait(10)  # an emit through a slow Redis
        if message == "breaks":
            raise ConnectionError("lost")
        delivered.append((member, event, message))

    news = Announcements(deliver)
    first = news.queue([("ann", "peer-joined", "hangs")])
    sending_first = threading.Thread(target=news.send, args=(first,))
    sending_first.start()
    second = news.queue([("bob", "peer-left", "breaks"), ("cat", "peer-left", "after")])
    sending_second = threading.Thread(target=news.send, args=(second,))
    sending_second.start()
    assert not second.is_set() and delivered == []  # queued at once, sent after "hangs"
    slow.set()
    for thread in (sending_first, sending_second):
        thread.join(10)
        assert not thread.is_alive()
    assert second.is_set()
    # In order; the emit that failed is logged and the news after it still goes out.
    assert delivered == [("ann", "peer-joined", "hangs"), ("cat", "peer-left", "after")]
