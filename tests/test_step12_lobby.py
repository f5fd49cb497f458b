"""Step 12 in real browsers: the lobby. A room made on one page shows on every other page's list,
with its count, as people join and leave; a full room says so and refuses; a private room shows
on no list and is joined through its link; inside a room it is step 4's group chat; and pages on
two processes sharing their rooms through Redis see one lobby. What the lobby may say and its
limits are checked with an independent client in test_signaling_contract.py."""

import re

import pytest
from playwright.sync_api import expect

from tests.test_step4_group_chat import chat, expect_mesh, expect_received

pytestmark = pytest.mark.browser

CAPACITY = 8  # step 4's rooms
PRIVATE_LINK = r"\?room=private-[A-Za-z0-9_-]{22}"


@pytest.fixture
def step12(start_server):
    return start_server(12)


@pytest.fixture
def lobby(step12, new_page):
    """lobby(server=step12, in_browser=None) -> a page showing the lobby, not in a room."""

    def open_lobby(server=step12, in_browser=None):
        page = new_page(f"{server.url}/", in_browser=in_browser)
        expect(page.locator("#signaling-state")).to_have_text("connected")
        expect(page.locator("#lobby-hint")).not_to_have_text("Connecting to the lobby…")
        return page

    return open_lobby


def entry(page, room):
    return page.locator(f'#rooms li[data-room="{room}"]')


def expect_entry(page, room, members, capacity=CAPACITY):
    expect(entry(page, room).locator(".room-count")).to_have_text(f"{members} of {capacity}")


def create(page, room, name):
    """Types a room's name and joins it, which makes it if it is not open."""
    page.fill("#name", name)
    page.fill("#room", room)
    page.click("#join")
    expect(page.locator("#me")).to_have_text(f"{name} (you)")


def join_from_lobby(page, room, name):
    page.fill("#name", name)
    entry(page, room).locator(".join-room").click()
    expect(page.locator("#me")).to_have_text(f"{name} (you)")


def test_a_new_room_shows_in_every_lobby_and_its_count_follows_joins_and_leaves(lobby, room):
    watcher, ann, bob = lobby(), lobby(), lobby()
    expect(entry(watcher, room)).to_have_count(0)

    create(ann, room, "Ann")
    expect_entry(watcher, room, 1)
    expect_entry(bob, room, 1)
    # In a room, the page marks it and offers no other.
    expect(entry(ann, room)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(entry(ann, room).locator(".join-room")).to_be_disabled()

    join_from_lobby(bob, room, "Bob")
    expect_entry(watcher, room, 2)
    expect_entry(ann, room, 2)

    bob.click("#leave")  # back to the lobby
    expect_entry(watcher, room, 1)
    expect(entry(bob, room).locator(".join-room")).to_be_enabled()
    expect(entry(bob, room)).not_to_have_class(re.compile(r"\bcurrent\b"))

    ann.close()  # a room that empties leaves the list
    expect(entry(watcher, room)).to_have_count(0)
    expect(entry(bob, room)).to_have_count(0)


def test_a_room_joined_from_the_lobby_is_step_4s_group_chat(lobby, room):
    ann, bob, cat = lobby(), lobby(), lobby()
    create(ann, room, "Ann")
    join_from_lobby(bob, room, "Bob")
    join_from_lobby(cat, room, "Cat")
    for page in (ann, bob, cat):
        expect_mesh(page, 2)
    chat(cat, "hello from the lobby")
    expect_received(ann, "Cat: hello from the lobby")
    expect_received(bob, "Cat: hello from the lobby")
    chat(ann, "welcome")
    expect_received(cat, "Ann: welcome")


def test_a_full_room_shows_full_and_refuses(start_server, new_page, lobby, room):
    small = start_server(12, MAX_ROOM_SIZE=2)
    ann, bob, cat = lobby(small), lobby(small), lobby(small)
    create(ann, room, "Ann")
    join_from_lobby(bob, room, "Bob")
    expect_entry(cat, room, 2, capacity=2)
    expect(entry(cat, room).locator(".room-full")).to_be_visible()
    expect(entry(cat, room).locator(".join-room")).to_be_disabled()

    # Typed by hand instead, the join is refused with the server's reason.
    cat.fill("#name", "Cat")
    cat.fill("#room", room)
    cat.click("#join")
    expect(cat.locator("#join-error")).to_contain_text("The room is full (2 members)")

    bob.click("#leave")
    expect_entry(cat, room, 1, capacity=2)
    expect(entry(cat, room).locator(".room-full")).to_be_hidden()
    join_from_lobby(cat, room, "Cat")
    expect_mesh(cat, 1)


def test_a_private_room_is_in_no_lobby_and_its_link_lets_others_in(lobby, new_page, room):
    watcher, ann, dan = lobby(), lobby(), lobby()
    ann.fill("#name", "Ann")
    ann.click("#new-private")
    expect(ann.locator("#me")).to_have_text("Ann (you)")
    expect(ann.locator("#invite-text")).to_contain_text("private")
    link = ann.locator("#invite-link").input_value()
    assert re.fullmatch(re.escape(ann.url.rstrip("/")) + "/" + PRIVATE_LINK, link), link
    private = link.split("room=")[1]

    # A public room made after it reaches every lobby, and the private one is on none of them.
    create(dan, room, "Dan")
    for page in (watcher, ann, dan):
        expect_entry(page, room, 1)
        expect(entry(page, private)).to_have_count(0)
        expect(page.locator("#rooms li", has_text="private-")).to_have_count(0)

    bob = new_page(link)
    expect(bob.locator("#room")).to_have_value(private)
    bob.fill("#name", "Bob")
    bob.click("#join")
    expect_mesh(bob, 1)
    expect_mesh(ann, 1)
    chat(bob, "found it")
    expect_received(ann, "Bob: found it")
    expect(entry(watcher, private)).to_have_count(0)


def test_two_processes_on_redis_show_one_lobby(shared_step12, lobby, room):
    first, second = shared_step12
    ann, bob = lobby(first), lobby(second)
    create(ann, room, "Ann")
    expect_entry(bob, room, 1)  # made on the first process, listed by the second
    join_from_lobby(bob, room, "Bob")
    expect_entry(ann, room, 2)
    expect_mesh(ann, 1)
    expect_mesh(bob, 1)
    chat(ann, "across processes")
    expect_received(bob, "Ann: across processes")


def test_across_browsers_a_room_from_one_lobby_is_joined_from_the_other(lobby, other_browser, room):
    ann, bob = lobby(), lobby(in_browser=other_browser)
    create(ann, room, "Ann")
    join_from_lobby(bob, room, "Bob")
    expect_mesh(ann, 1)
    expect_mesh(bob, 1)
    chat(ann, "hello")
    expect_received(bob, "Ann: hello")
    chat(bob, "hi")
    expect_received(ann, "Bob: hi")
    bob.click("#leave")
    expect_entry(ann, room, 1)
