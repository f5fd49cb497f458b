"""Step 2 in real browsers: two users meet through the signaling server and chat peer to peer."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# What the stats panel says of the chosen remote candidate; Firefox often says prflx where
# Chromium says host, and the panel explains it.
TRAFFIC = re.compile(r"^\d+(\.\d)? (B|KiB)/s, \d+(\.\d)? (B|KiB) in all$")
KNOWN_CANDIDATE = re.compile(
    r"remote candidate(host \S+ udp|prflx \S+ udp \(peer reflexive: learned from a connectivity"
    r" check, not from a candidate\))"
)


@pytest.fixture
def step2(start_server):
    return start_server(2)


@pytest.fixture
def join(step2, room, new_page):
    """join(name, query, in_browser=None) -> a page that has joined the test's room under that
    name."""

    def join_as(name, query="", server=step2, room=room, in_browser=None):
        page = new_page(f"{server.url}/?room={room}{query}", in_browser=in_browser)
        expect(page.locator("#signaling-state")).to_have_text("connected")
        expect(page.locator("#room")).to_have_value(room)
        page.fill("#name", name)
        page.click("#join")
        return page

    return join_as


def chat(page, text):
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#message", text)
    page.click("#send")


def expect_connected(page, peer_name):
    expect(page.locator("#connection-state")).to_have_text("connected")
    expect(page.locator("#peer-name")).to_have_text(peer_name)


def test_two_users_connect_and_chat_both_ways(join):
    ann = join("Ann")
    expect(ann.locator("#log")).to_contain_text("Waiting for someone")
    bob = join("Bob")

    expect_chat_both_ways(ann, bob)
    expect(ann.locator("#log")).to_contain_text("You: hi Bob, it's Ann")


def expect_chat_both_ways(ann, bob):
    expect_connected(ann, "Bob")
    expect_connected(bob, "Ann")
    chat(ann, "hi Bob, it's Ann")
    expect(bob.locator("#log")).to_contain_text("Ann: hi Bob, it's Ann")
    chat(bob, "hello Ann")
    expect(ann.locator("#log")).to_contain_text("Bob: hello Ann")


def test_a_third_user_is_told_the_room_is_full(join):
    ann = join("Ann")
    bob = join("Bob")
    expect_connected(ann, "Bob")

    cat = join("Cat")
    expect(cat.locator("#join-error")).to_contain_text("The room is full")
    expect(cat.locator("#join")).to_be_enabled()
    expect(cat.locator("#connection-state")).to_have_text("none")
    # The two members are untouched and still talk.
    chat(bob, "still here")
    expect(ann.locator("#log")).to_contain_text("Bob: still here")


def test_after_a_leave_the_next_user_connects(join):
    ann = join("Ann")
    bob = join("Bob")
    expect_connected(ann, "Bob")

    bob.click("#leave")
    expect(ann.locator("#log")).to_contain_text("Bob left")
    expect(ann.locator("#peer-name")).to_have_text("nobody yet")
    expect(ann.locator("#send")).to_be_disabled()

    dan = join("Dan")
    expect_connected(ann, "Dan")
    expect_connected(dan, "Ann")
    chat(dan, "hi, I'm new")
    expect(ann.locator("#log")).to_contain_text("Dan: hi, I'm new")
    chat(ann, "welcome Dan")
    expect(dan.locator("#log")).to_contain_text("Ann: welcome Dan")


def test_a_closed_tab_counts_as_leaving(join):
    ann = join("Ann")
    bob = join("Bob")
    expect_connected(ann, "Bob")

    bob.context.close()
    expect(ann.locator("#log")).to_contain_text("Bob left")
    join("Eve")
    expect_connected(ann, "Eve")


def test_a_taken_name_is_refused_with_a_clear_message(join):
    join("Ann")
    other = join("ANN")
    expect(other.locator("#join-error")).to_contain_text("already uses that name")


def test_the_stats_panel_shows_the_chosen_candidate_pair(join):
    ann = join("Ann")
    join("Bob")
    expect_connected(ann, "Bob")
    stats = ann.locator("#stats table.stats")
    expect(stats.locator("tr[data-stat=connection]")).to_contain_text("connected")
    expect(stats.locator("tr[data-stat=local-candidate]")).to_contain_text("host")
    expect(stats.locator("tr[data-stat=remote-candidate]")).to_have_text(KNOWN_CANDIDATE)
    expect(stats.locator("tr[data-stat=round-trip]")).to_contain_text(" ms")
    # Real figures, in both browsers (Firefox's transport stats count no bytes: the pair's do).
    for row in ("sent", "received"):
        expect(stats.locator(f"tr[data-stat={row}] td").nth(1)).to_have_text(TRAFFIC)


def test_each_page_holds_exactly_one_peer_connection(join):
    ann = join("Ann")
    bob = join("Bob")
    expect_connected(ann, "Bob")
    expect_connected(bob, "Ann")
    assert ann.evaluate("openPeerConnections().length") == 1
    assert bob.evaluate("openPeerConnections().length") == 1


def test_a_chat_survives_a_signaling_restart_and_the_room_works_after(join, own_server):
    server = own_server(2)
    ann = join("Ann", server=server)
    bob = join("Bob", server=server)
    expect_connected(ann, "Bob")

    server.stop()
    expect(ann.locator("#signaling-state")).to_have_text("reconnecting")
    expect(bob.locator("#signaling-state")).to_have_text("reconnecting")
    chat(ann, "the server is gone")
    expect(bob.locator("#log")).to_contain_text("Ann: the server is gone")

    server.start()
    for page in (ann, bob):
        expect(page.locator("#log")).to_contain_text("rejoined the room", timeout=20000)
        expect(page.locator("#signaling-state")).to_have_text("connected")
    chat(bob, "and it is back")
    expect(ann.locator("#log")).to_contain_text("Bob: and it is back")
    assert ann.evaluate("openPeerConnections().length") == 1

    # Both are members again: a leave is seen, and a newcomer connects.
    bob.click("#leave")
    expect(ann.locator("#log")).to_contain_text("Bob left")
    dan = join("Dan", server=server)
    expect_connected(ann, "Dan")
    chat(dan, "hello after the restart")
    expect(ann.locator("#log")).to_contain_text("Dan: hello after the restart")


def test_an_overlong_message_is_refused_with_a_clear_message(join):
    ann = join("Ann")
    bob = join("Bob")
    expect_connected(ann, "Bob")
    chat(ann, "x" * 2001)
    expect(ann.locator("#log li.error")).to_contain_text("limited to 2000 characters")
    expect(ann.locator("#message")).to_have_value("x" * 2001)  # kept, to shorten
    chat(ann, "y" * 2000)
    expect(bob.locator("#log")).to_contain_text("Ann: " + "y" * 2000)
    expect(bob.locator("#log")).not_to_contain_text("x" * 2001)


def test_a_blank_message_is_not_sent(join):
    ann = join("Ann")
    bob = join("Bob")
    expect_connected(ann, "Bob")
    chat(ann, "   ")
    expect(ann.locator("#message")).to_have_value("   ")  # nothing happened: no bare "You:"
    chat(ann, "after the blank one")
    expect(bob.locator("#log li.received")).to_have_text(["Ann: after the blank one"])
    expect(ann.locator("#log li.sent")).to_have_text(["You: after the blank one"])


def test_a_full_room_says_how_many_it_holds_whatever_its_name(join, own_server):
    server = own_server(2)  # a room named "full" of its own
    ann, _ = join("Ann", server=server, room="full"), join("Bob", server=server, room="full")
    expect_connected(ann, "Bob")
    cat = join("Cat", server=server, room="full")
    expect(cat.locator("#join-error")).to_have_text(
        "The room is full (2 members). A call here is for two. Pick another room name."
    )


def test_across_browsers_the_newcomer_calls_and_both_chat_until_one_leaves(join, other_browser):
    # Run once with each browser first: the newcomer, in the other browser, makes the offer.
    ann = join("Ann")
    bob = join("Bob", in_browser=other_browser)
    expect_chat_both_ways(ann, bob)
    for page in (ann, bob):
        stats = page.locator("#stats table.stats")
        expect(stats.locator("tr[data-stat=remote-candidate]")).to_have_text(KNOWN_CANDIDATE)
        expect(stats.locator("tr[data-stat=received]")).to_contain_text("in all")

    bob.click("#leave")
    expect(ann.locator("#log")).to_contain_text("Bob left")
    expect(ann.locator("#peer-name")).to_have_text("nobody yet")
