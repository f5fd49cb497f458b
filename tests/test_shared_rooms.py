"""Several signaling processes sharing their rooms through Redis (REDIS_URL): pages served by two
different processes meet in one room, in real browsers. The whole signaling contract also runs
across the two processes (the "shared" cases of test_signaling_contract.py)."""

import pytest
from playwright.sync_api import expect

from common.shared_rooms import SharedRooms
from common.signaling import Rooms
from tests.signaling_client import Member
from tests.test_step4_group_chat import chat, expect_mesh, expect_received


def join(new_page, server, room, name):
    page = new_page(f"{server.url}/?room={room}")
    expect(page.locator("#signaling-state")).to_have_text("connected")
    page.fill("#name", name)
    page.click("#join")
    return page


@pytest.mark.browser
def test_pages_on_two_processes_form_one_mesh(shared_step4, new_page, room):
    first, second = shared_step4
    ann = join(new_page, first, room, "Ann")
    bob = join(new_page, second, room, "Bob")
    cat = join(new_page, first, room, "Cat")
    for page in (ann, bob, cat):
        expect_mesh(page, 2)

    chat(bob, "hello from the second process")
    expect_received(ann, "Bob: hello from the second process")
    expect_received(cat, "Bob: hello from the second process")

    # A name is unique in the room whichever process holds it.
    taken = join(new_page, second, room, "ann")
    expect(taken.locator("#join-error")).to_contain_text("already uses that name")

    bob.close()  # the leave crosses from the second process to the first
    for page in (ann, cat):
        expect(page.locator("#users li")).to_have_count(1)
        expect(page.locator("#connection-count")).to_have_text("1")


def test_a_stopping_process_takes_its_members_out_of_the_rooms(shared_step4, own_server, room):
    first, second = shared_step4
    third = own_server(4, REDIS_URL=first.env["REDIS_URL"])
    ann, bob = Member(first.url), Member(third.url)
    try:
        ann.join(room, "Ann")
        bob.join(room, "Bob")
        assert ann.next_event() == ("peer-joined", {"id": bob.id, "name": "Bob"})
        third.stop()  # SIGTERM, as a service manager stops it; Ctrl+C does the same
        assert ann.next_event() == ("peer-left", {"id": bob.id})
        back = Member(second.url)
        assert back.join(room, "Bob")["peers"] == [{"id": ann.id, "name": "Ann"}]  # name is free
        back.close()
    finally:
        ann.close()


def test_a_lobby_lists_the_same_rooms_in_the_same_order_in_memory_and_in_redis(shared_step4, room):
    """The lobby's list (step 12) is read from Redis when processes share their rooms: same rooms,
    same order (busiest first, then by name), same total and version as one process's."""
    listed = lambda name: not name.endswith("-hidden")  # noqa: E731
    both = [
        Rooms(8, listed=listed),
        SharedRooms(shared_step4[0].env["REDIS_URL"], f"test:{room}", 8, listed=listed),
    ]
    sizes = {"b": 3, "a": 2, "c": 2, "d": 1, "e-hidden": 4, "f": 1}
    for rooms in both:
        for suffix, size in sizes.items():
            for n in range(size):
                rooms.join(f"{suffix}{n}", f"{room}-{suffix}", f"M{n}")
        rooms.leave("b0")  # b: 2 members
        rooms.leave("d0")  # d: empty, unlisted
    memory, redis = (rooms.listing(3) for rooms in both)
    assert memory == redis
    assert memory["total"] == 4
    assert memory["rooms"] == [
        {"room": f"{room}-a", "members": 2},
        {"room": f"{room}-b", "members": 2},
        {"room": f"{room}-c", "members": 2},
    ]
