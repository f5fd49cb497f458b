"""Step 3 in real browsers: a live user list, and private chats over one connection per pair."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HOSTILE_MESSAGE = "<img src=x onerror=window.pwned=1>"
HOSTILE_NAME = "<img src=x onerror=pwned=1>"  # a name holds at most 32 characters

# Test instrumentation for the glare test, run in a page before anyone clicks. It holds back the
# page's outgoing signals (a slow signaling path) until the test opens the gate, so that both pages
# have really made their offers before either offer arrives: the offers are certain to cross,
# however fast one page is. It also counts the RTCPeerConnections the page creates, closed ones
# included.
HOLD_SIGNALS = """
(() => {
  let openGate;
  const gate = new Promise((resolve) => (openGate = resolve));
  window.openSignalGate = openGate;
  const send = Signaling.prototype.send;
  Signaling.prototype.send = async function (...args) {
    await gate;
    return send.apply(this, args);
  };
  window.createdConnections = 0;
  const Counted = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Counted {
    constructor(...args) {
      super(...args);
      window.createdConnections += 1;
    }
  };
})();
"""
HAS_LOCAL_OFFER = "openPeerConnections()[0]?.signalingState === 'have-local-offer'"


@pytest.fixture
def step3(start_server):
    return start_server(3)


@pytest.fixture
def join(step3, room, new_page):
    """join(name, in_browser=None) -> a page that has joined the test's room under that name."""

    def join_as(name, server=step3, query="", in_browser=None):
        page = new_page(f"{server.url}/?room={room}{query}", in_browser=in_browser)
        expect(page.locator("#signaling-state")).to_have_text("connected")
        expect(page.locator("#room")).to_have_value(room)
        page.fill("#name", name)
        page.click("#join")
        return page

    return join_as


def joined(page, name):
    expect(page.locator("#me")).to_have_text(f"{name} (you)")
    return page


def entry(page, name):
    """The list entry for the peer called `name`."""
    return page.locator(f'#users li[data-peer-name="{name}"]')


def pane(page, name):
    """The chat pane with the peer called `name` (hidden unless it is the open chat)."""
    return page.locator(f'.chat[data-peer-name="{name}"]')


def listed(page):
    return page.locator("#users li[data-peer-name] .name")


def open_chat(page, name):
    entry(page, name).locator("button").click()
    expect(pane(page, name)).to_be_visible()


def say(page, name, text):
    """Sends `text` in the open chat with `name`, once its data channel is open."""
    chat = pane(page, name)
    expect(chat.locator(".send")).to_be_enabled()
    chat.locator(".message").fill(text)
    chat.locator(".send").click()
    expect(chat.locator(".log li.sent").last).to_have_text(f"You: {text}")


def expect_connected(page, name):
    expect(entry(page, name).locator(".connection-state")).to_have_text("connected")


def connections(page):
    return page.evaluate("openPeerConnections().length")


def test_the_list_shows_everyone_and_marks_your_own_name(join):
    ann = joined(join("Ann"), "Ann")
    expect(ann.locator("#users-hint")).to_contain_text("Nobody else is here yet")
    bob = joined(join("Bob"), "Bob")
    cat = joined(join("Cat"), "Cat")

    # Ann and Bob learn of later arrivals from peer-joined, Cat of earlier ones from her ack.
    expect(listed(ann)).to_have_text(["Bob", "Cat"])
    expect(listed(bob)).to_have_text(["Ann", "Cat"])
    expect(listed(cat)).to_have_text(["Ann", "Bob"])
    expect(ann.locator("#users-hint")).to_be_hidden()
    # Nobody has clicked anyone: being listed costs no connection.
    assert [connections(p) for p in (ann, bob, cat)] == [0, 0, 0]


def test_private_messages_reach_only_their_peer_over_one_connection_per_pair(join):
    ann = joined(join("Ann"), "Ann")
    bob = joined(join("Bob"), "Bob")
    cat = joined(join("Cat"), "Cat")
    expect(listed(bob)).to_have_text(["Ann", "Cat"])

    open_chat(ann, "Bob")
    say(ann, "Bob", "from Ann, for Bob")
    open_chat(cat, "Bob")
    say(cat, "Bob", "from Cat, for Bob")

    # Bob's two chats each hold their own sender's message, and only that.
    expect(pane(bob, "Ann").locator(".log li.received")).to_have_text(["Ann: from Ann, for Bob"])
    expect(pane(bob, "Cat").locator(".log li.received")).to_have_text(["Cat: from Cat, for Bob"])
    # Ann and Cat never talked: their chats with each other are empty and cost no connection.
    expect(pane(ann, "Cat").locator(".log li")).to_have_count(0)
    expect(pane(cat, "Ann").locator(".log li")).to_have_count(0)
    expect(ann.locator("#chats")).not_to_contain_text("from Cat")
    expect(cat.locator("#chats")).not_to_contain_text("from Ann")
    assert (connections(ann), connections(bob), connections(cat)) == (1, 2, 1)

    # Bob answers in Ann's chat: Ann's connection is reused the other way, nothing new is made.
    open_chat(bob, "Ann")
    say(bob, "Ann", "hi Ann, Bob here")
    expect(pane(ann, "Bob").locator(".log li.received")).to_have_text(["Bob: hi Ann, Bob here"])
    expect(cat.locator("#chats")).not_to_contain_text("hi Ann")
    assert (connections(ann), connections(bob), connections(cat)) == (1, 2, 1)


def test_two_users_opening_each_other_at_once_get_exactly_one_connection(join):
    expect_crossing_offers_settle(joined(join("Ann"), "Ann"), joined(join("Bob"), "Bob"))


def expect_crossing_offers_settle(ann, bob):
    """Ann and Bob click each other at once: both offer, and they end with one connection."""
    expect(listed(ann)).to_have_text(["Bob"])
    for page in (ann, bob):
        page.evaluate(HOLD_SIGNALS)

    # Both click, without waiting in between. Both pages make an offer; only then do they go out.
    entry(ann, "Bob").locator("button").click()
    entry(bob, "Ann").locator("button").click()
    ann.wait_for_function(HAS_LOCAL_OFFER)
    bob.wait_for_function(HAS_LOCAL_OFFER)
    for page in (ann, bob):
        page.evaluate("window.openSignalGate()")

    expect_connected(ann, "Bob")
    expect_connected(bob, "Ann")
    say(ann, "Bob", "Ann to Bob")
    say(bob, "Ann", "Bob to Ann")
    expect(pane(bob, "Ann").locator(".log li.received")).to_have_text(["Ann: Ann to Bob"])
    expect(pane(ann, "Bob").locator(".log li.received")).to_have_text(["Bob: Bob to Ann"])
    for page in (ann, bob):
        assert page.evaluate("window.createdConnections") == 1
        assert connections(page) == 1
        assert page.evaluate("openPeerConnections()[0].connectionState") == "connected"
        expect(page.locator(".log li.error")).to_have_count(0)


def test_unread_counts_rise_for_a_closed_chat_and_clear_when_it_opens(join):
    ann = joined(join("Ann"), "Ann")
    bob = joined(join("Bob"), "Bob")
    badge = entry(bob, "Ann").locator(".unread")
    expect(badge).to_be_hidden()

    open_chat(ann, "Bob")
    say(ann, "Bob", "one")
    expect(badge).to_have_text("1")
    say(ann, "Bob", "two")
    expect(badge).to_have_text("2")
    expect(badge).to_be_visible()
    expect(pane(bob, "Ann")).to_be_hidden()

    open_chat(bob, "Ann")
    expect(badge).to_be_hidden()
    expect(pane(bob, "Ann").locator(".log li.received")).to_have_text(["Ann: one", "Ann: two"])
    # A message to the chat that is open is read at once.
    say(ann, "Bob", "three")
    expect(pane(bob, "Ann").locator(".log li.received").last).to_have_text("Ann: three")
    expect(badge).to_be_hidden()
    # Ann's own badge for Bob never moved: she sent, she did not receive.
    expect(entry(ann, "Bob").locator(".unread")).to_be_hidden()


def test_a_leave_updates_every_list_and_marks_the_chat(join):
    ann = joined(join("Ann"), "Ann")
    bob = joined(join("Bob"), "Bob")
    cat = joined(join("Cat"), "Cat")
    open_chat(ann, "Bob")
    say(ann, "Bob", "are you there?")
    expect(pane(bob, "Ann").locator(".log li.received")).to_have_text(["Ann: are you there?"])

    bob.click("#leave")
    expect(listed(ann)).to_have_text(["Cat"])
    expect(listed(cat)).to_have_text(["Ann"])
    expect(bob.locator("#users li")).to_have_count(0)
    # Ann's open chat with Bob stays readable, says he left, and takes no more messages.
    expect(pane(ann, "Bob").locator(".log li.notice").last).to_have_text("Bob left.")
    expect(pane(ann, "Bob").locator(".message")).to_be_disabled()
    expect(pane(ann, "Bob").locator(".send")).to_be_disabled()
    assert connections(ann) == 0
    assert connections(bob) == 0

    # A closed tab counts as leaving too.
    cat.context.close()
    expect(listed(ann)).to_have_count(0)
    expect(ann.locator("#users-hint")).to_contain_text("Nobody else is here yet")


def test_hostile_names_and_messages_show_as_text(join):
    mallory = joined(join(HOSTILE_NAME), HOSTILE_NAME)
    bob = joined(join("Bob"), "Bob")
    expect(listed(bob)).to_have_text([HOSTILE_NAME])

    open_chat(mallory, "Bob")
    say(mallory, "Bob", HOSTILE_MESSAGE)
    expect(entry(bob, HOSTILE_NAME).locator(".unread")).to_have_text("1")
    open_chat(bob, HOSTILE_NAME)
    chat = pane(bob, HOSTILE_NAME)
    expect(chat.locator(".title")).to_have_text(f"Chat with {HOSTILE_NAME}")
    expect(chat.locator(".log li.received")).to_have_text([f"{HOSTILE_NAME}: {HOSTILE_MESSAGE}"])
    for page in (mallory, bob):
        assert page.evaluate("window.pwned") is None
        expect(page.locator("img")).to_have_count(0)


def test_a_full_room_refuses_with_a_clear_message(start_server, join):
    small = start_server(3, MAX_ROOM_SIZE=2)
    joined(join("Ann", small), "Ann")
    joined(join("Bob", small), "Bob")
    cat = join("Cat", small)
    expect(cat.locator("#join-error")).to_contain_text("The room is full")
    expect(cat.locator("#join")).to_be_enabled()
    expect(cat.locator("#users li")).to_have_count(0)


def test_a_private_chat_survives_a_signaling_restart(join, own_server):
    server = own_server(3)
    ann = joined(join("Ann", server=server), "Ann")
    bob = joined(join("Bob", server=server), "Bob")
    open_chat(ann, "Bob")
    say(ann, "Bob", "before the restart")
    expect(pane(bob, "Ann").locator(".log")).to_contain_text("Ann: before the restart")

    server.stop()
    expect(ann.locator("#signaling-state")).to_have_text("reconnecting")
    say(ann, "Bob", "while the server is down")
    expect(pane(bob, "Ann").locator(".log")).to_contain_text("Ann: while the server is down")

    server.start()
    for page in (ann, bob):
        expect(page.locator("#signaling-state")).to_have_text("connected", timeout=20000)
    cat = joined(join("Cat", server=server), "Cat")
    for page, others in ((ann, ["Bob", "Cat"]), (bob, ["Ann", "Cat"]), (cat, ["Ann", "Bob"])):
        expect(listed(page)).to_have_count(2)
        assert sorted(listed(page).all_inner_texts()) == others  # in whatever order they rejoined
    open_chat(bob, "Ann")
    say(bob, "Ann", "after the restart")
    expect(pane(ann, "Bob").locator(".log")).to_contain_text("Bob: after the restart")
    open_chat(cat, "Ann")
    say(cat, "Ann", "hi Ann, I came later")
    expect(entry(ann, "Cat").locator(".unread")).to_have_text("1")
    assert connections(ann) == 2 and connections(bob) == 1


def test_across_browsers_the_list_and_a_private_chat_work_until_one_leaves(join, other_browser):
    # Run once with each browser first: Ann clicks first, so Ann's browser makes the offer.
    ann = joined(join("Ann"), "Ann")
    bob = joined(join("Bob", in_browser=other_browser), "Bob")
    expect(listed(ann)).to_have_text(["Bob"])
    expect(listed(bob)).to_have_text(["Ann"])

    open_chat(ann, "Bob")
    say(ann, "Bob", "hello across")
    expect(pane(bob, "Ann").locator(".log li.received")).to_have_text(["Ann: hello across"])
    open_chat(bob, "Ann")
    say(bob, "Ann", "and back")
    expect(pane(ann, "Bob").locator(".log li.received")).to_have_text(["Bob: and back"])
    expect_connected(ann, "Bob")
    expect_connected(bob, "Ann")

    bob.click("#leave")
    expect(ann.locator("#users li")).to_have_count(0)
    expect(pane(ann, "Bob").locator(".log li.notice").last).to_have_text("Bob left.")
    assert connections(ann) == 0


def test_across_browsers_crossing_offers_end_in_one_connection(join, other_browser):
    expect_crossing_offers_settle(
        joined(join("Ann"), "Ann"), joined(join("Bob", in_browser=other_browser), "Bob")
    )
