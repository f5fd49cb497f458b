"""Step 11 in real browsers: calling a person by name. Every state of a call is proven by what
each page shows (its call panel, its list), and a call by video flowing both ways: the remote
<video> has a size and the frames decoded from it keep rising.

Before anyone accepts, nothing is asked of the camera and no connection exists: an injected probe
counts the page's getUserMedia() calls and the RTCPeerConnections it makes, and keeps the tracks
getUserMedia() gave, to check that each one has ended after the call.
"""

import pytest
from playwright.sync_api import expect

from tests.conftest import wait_until
from tests.signaling_client import Member
from tests.test_step3_user_list import HOLD_SIGNALS

pytestmark = pytest.mark.browser

# As in step 5's tests: a first connection takes several seconds when other browser tests share
# the machine.
CONNECT_TIMEOUT = 20_000

# Test instrumentation, run in every page before its own scripts: `mediaRequests` and
# `localTracks` (getUserMedia), and `connectionsMade` (closed ones included).
PROBE_CALLS = """
(() => {
  window.mediaRequests = 0;
  window.localTracks = [];
  const getUserMedia = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = async function (...args) {
    window.mediaRequests += 1;
    const stream = await getUserMedia.apply(this, args);
    window.localTracks.push(...stream.getTracks());
    return stream;
  };
  window.connectionsMade = 0;
  const Counted = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Counted {
    constructor(...args) {
      super(...args);
      window.connectionsMade += 1;
    }
  };
})();
"""

# A user who refuses the camera and microphone: getUserMedia rejects as browsers do then.
REFUSE_MEDIA = """
navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
"""


# The order a loaded machine can give: the members' first signals reach the newcomer before the
# ack of its join, which is read only once a signal has come.
LATE_JOIN_ACK = """
document.addEventListener('DOMContentLoaded', () => {
  const request = Signaling.prototype.request;
  Signaling.prototype.request = async function (event, ...payload) {
    if (event !== 'join') return request.call(this, event, ...payload);
    const signalled = new Promise((resolve) => this.socket.once('signal', resolve));
    const ack = await request.call(this, event, ...payload);
    await signalled;
    return ack;
  };
});
"""


@pytest.fixture
def step11(start_server):
    return start_server(11)


@pytest.fixture
def join(step11, room, new_page):
    """join(name, query="", in_browser=None, init_script="") -> a page that has joined the test's
    room."""

    def join_as(name, query="", in_browser=None, init_script=""):
        page = new_page(
            f"{step11.url}/?room={room}{query}",
            in_browser=in_browser,
            init_script=PROBE_CALLS + init_script,
        )
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.fill("#name", name)
        page.click("#join")
        expect(page.locator("#me")).to_have_text(f"{name} (you)")
        return page

    return join_as


def entry(page, name):
    return page.locator(f'#users li[data-peer-name="{name}"]')


def presence(page, name):
    return entry(page, name).locator(".presence")


def status(page):
    return page.locator("#call-status")


def dial(page, name):
    button = entry(page, name).locator(".call-button")
    expect(button).to_be_enabled()
    button.click()


def nothing_connected(*pages):
    for page in pages:
        assert page.evaluate("[mediaRequests, connectionsMade]") == [0, 0]


def expect_ringing(caller, callee, caller_name, callee_name):
    expect(status(caller)).to_have_text(f"Calling {callee_name}…")
    expect(caller.locator("#cancel")).to_be_visible()
    expect(status(callee)).to_have_text(f"{caller_name} is calling you.")
    expect(callee.locator("#accept")).to_be_visible()
    expect(callee.locator("#decline")).to_be_visible()
    expect(presence(callee, caller_name)).to_have_text("calling you")


def expect_video_from(page, name):
    """The page shows name's video: it plays, has a size, and more and more frames are decoded."""
    video = page.locator(f'.remote-tile[data-peer-name="{name}"] video')
    expect(video).to_be_visible(timeout=CONNECT_TIMEOUT)
    page.wait_for_function(
        "video => video.videoWidth > 0 && !video.paused",
        arg=video.element_handle(),
        timeout=CONNECT_TIMEOUT,
    )
    before = page.evaluate("name => framesDecodedFrom(name)", name)
    wait_until(page, "async ([n, before]) => (await framesDecodedFrom(n)) > before", [name, before])


def expect_in_call(page, other):
    expect(status(page)).to_have_text(f"In a call with {other}.")
    expect(page.locator("#hang-up")).to_be_visible()
    expect_video_from(page, other)
    assert page.evaluate("mediaRequests") == 1
    assert page.evaluate("openPeerConnections().length") == 1


def connect(caller, callee, caller_name, callee_name):
    dial(caller, callee_name)
    expect(callee.locator("#accept")).to_be_visible()
    callee.click("#accept")
    expect_in_call(caller, callee_name)
    expect_in_call(callee, caller_name)


def expect_call_over(page, text):
    """The call ended with `text`: no connection left, every camera and microphone track ended
    (the camera's light is off), no video on screen, and Call can be pressed again."""
    expect(status(page)).to_have_text(text)
    expect(page.locator("#call-videos")).to_be_hidden()
    page.wait_for_function("openPeerConnections().length === 0")
    assert page.evaluate("localTracks.every((track) => track.readyState === 'ended')")
    expect(page.locator("#users .call-button:disabled")).to_have_count(0)


def test_a_call_rings_on_both_sides_and_nothing_connects_before_an_answer(join):
    ann, bob = join("Ann"), join("Bob")
    dial(ann, "Bob")
    expect_ringing(ann, bob, "Ann", "Bob")
    expect(presence(ann, "Bob")).to_have_text("calling…")
    nothing_connected(ann, bob)

    ann.click("#cancel")
    expect(status(ann)).to_have_text("You cancelled the call.")
    expect(status(bob)).to_have_text("Missed call from Ann.")
    for page in (ann, bob):
        expect(page.locator("#call button:visible")).to_have_count(0)
    expect(presence(bob, "Ann")).to_be_hidden()
    nothing_connected(ann, bob)


def test_decline_and_busy_are_told_to_the_caller(join):
    ann, bob, cat = join("Ann"), join("Bob"), join("Cat")
    dial(ann, "Bob")
    expect_ringing(ann, bob, "Ann", "Bob")
    # A phone that rings, or calls, is busy for everyone else.
    dial(cat, "Bob")
    expect(status(cat)).to_have_text("Bob is busy.")
    dial(cat, "Ann")
    expect(status(cat)).to_have_text("Ann is busy.")
    expect(status(bob)).to_have_text("Ann is calling you.")

    bob.click("#decline")
    expect(status(bob)).to_have_text("You declined Ann's call.")
    expect(status(ann)).to_have_text("Bob declined.")
    nothing_connected(ann, bob, cat)
    # Free again: Cat's call now rings.
    dial(cat, "Bob")
    expect_ringing(cat, bob, "Cat", "Bob")


def test_an_unanswered_call_stops_ringing_on_both_sides(join):
    ann, bob = join("Ann", "&ringTimeout=1500"), join("Bob", "&ringTimeout=1500")
    dial(ann, "Bob")
    expect_ringing(ann, bob, "Ann", "Bob")
    expect(status(ann)).to_have_text("Bob did not answer.")
    expect(status(bob)).to_have_text("Missed call from Ann.")
    expect(bob.locator("#accept")).to_be_hidden()
    nothing_connected(ann, bob)


def test_accept_shows_video_both_ways_until_either_side_hangs_up(join):
    # The caller hangs up here; the callee does in the mixed pair's test (each browser's page is
    # the callee once).
    ann, bob = join("Ann"), join("Bob")
    connect(ann, bob, "Ann", "Bob")
    expect(presence(ann, "Bob")).to_have_text("in a call")

    ann.click("#hang-up")
    expect_call_over(ann, "You hung up.")
    expect_call_over(bob, "Ann hung up.")


def test_news_of_a_call_that_comes_before_the_join_is_answered_is_kept(join):
    ann, bob = join("Ann"), join("Bob")
    connect(ann, bob, "Ann", "Bob")
    dan = join("Dan", init_script=LATE_JOIN_ACK)
    expect(presence(dan, "Ann")).to_have_text("in a call")
    expect(presence(dan, "Bob")).to_have_text("in a call")


def test_the_list_shows_who_is_in_a_call_and_they_are_busy(join, step11, room):
    cat = join("Cat")
    ann, bob = join("Ann"), join("Bob")
    connect(ann, bob, "Ann", "Bob")
    dan = join("Dan")  # came after the call began
    for page in (cat, dan):
        expect(presence(page, "Ann")).to_have_text("in a call")
        expect(presence(page, "Bob")).to_have_text("in a call")
    dial(cat, "Bob")
    expect(status(cat)).to_have_text("Bob is busy.")
    expect(presence(cat, "Bob")).to_have_text("in a call")  # still, after our own try
    nothing_connected(cat)

    # Messages about a call that does not exist change nothing; an invite gets busy.
    mallory = Member(step11.url)
    try:
        peers = {peer["name"]: peer["id"] for peer in mallory.join(room, "Mallory")["peers"]}
        for kind in ("hang-up", "cancel", "decline", "accept"):
            assert mallory.signal(peers["Ann"], {"call": {"type": kind, "id": "a-guess"}})["ok"]
        mallory.signal(peers["Ann"], {"call": {"type": "invite", "id": "mallory-1"}})
        busy = {"call": {"type": "busy", "id": "mallory-1"}}
        event = mallory.next_event()
        while event[0] != "signal" or event[1]["data"] != busy:
            event = mallory.next_event()  # peer-joined and in-call news come first
        assert event[1]["from"] == peers["Ann"]
    finally:
        mallory.close()
    expect(status(ann)).to_have_text("In a call with Bob.")
    expect_video_from(ann, "Bob")

    ann.click("#hang-up")
    for page in (cat, dan):
        expect(presence(page, "Ann")).to_be_hidden()
        expect(presence(page, "Bob")).to_be_hidden()


def test_a_refused_camera_still_lets_the_call_go_on_one_way(join):
    ann, bob = join("Ann"), join("Bob", init_script=REFUSE_MEDIA)
    dial(ann, "Bob")
    bob.click("#accept")
    expect(status(bob)).to_have_text(
        "In a call with Ann, who cannot see or hear you: permission was refused "
        "(allow it in the site settings next to the address bar, then leave and join again)."
    )
    expect_video_from(bob, "Ann")
    expect(status(ann)).to_have_text("In a call with Bob.")
    ann.click("#hang-up")
    expect_call_over(bob, "Ann hung up.")


def expect_crossing_calls_settle(ann, bob):
    """Ann and Bob call each other at once: both invites are out before either arrives (step 3's
    HOLD_SIGNALS holds each page's signals until its gate opens)."""
    for page in (ann, bob):
        page.evaluate(HOLD_SIGNALS)
    dial(ann, "Bob")
    dial(bob, "Ann")
    expect(status(ann)).to_have_text("Calling Bob…")
    expect(status(bob)).to_have_text("Calling Ann…")
    for page in (ann, bob):
        page.evaluate("openSignalGate()")

    expect_in_call(ann, "Bob")
    expect_in_call(bob, "Ann")
    for page in (ann, bob):
        assert page.evaluate("connectionsMade") == 1


def test_two_people_calling_each_other_at_once_get_one_call(join):
    expect_crossing_calls_settle(join("Ann"), join("Bob"))


def test_a_member_who_leaves_ends_the_call_on_the_other_side(join):
    # While it rings; a tab closed mid-call is in test_two_calls_go_on_in_one_room_at_once.
    ann, cat = join("Ann"), join("Cat")
    dial(cat, "Ann")
    expect_ringing(cat, ann, "Cat", "Ann")
    cat.click("#leave")
    expect(status(ann)).to_have_text("Cat left.")
    expect(ann.locator("#accept")).to_be_hidden()
    nothing_connected(ann)


def test_two_calls_go_on_in_one_room_at_once(join):
    ann, bob, cat, dan = join("Ann"), join("Bob"), join("Cat"), join("Dan")
    connect(ann, bob, "Ann", "Bob")
    connect(cat, dan, "Cat", "Dan")
    expect_video_from(ann, "Bob")
    expect_video_from(bob, "Ann")
    for page, others in ((ann, ("Cat", "Dan")), (dan, ("Ann", "Bob"))):
        for other in others:
            expect(presence(page, other)).to_have_text("in a call")
    ann.click("#hang-up")
    expect_call_over(bob, "Ann hung up.")
    expect(status(cat)).to_have_text("In a call with Dan.")
    expect_video_from(cat, "Dan")
    # A tab closed mid-call: the server tells the other side at once.
    dan.context.close()
    expect_call_over(cat, "Dan left.")


def test_across_browsers_a_call_connects_and_hangs_up(join, other_browser):
    ann, bob = join("Ann"), join("Bob", in_browser=other_browser)
    connect(ann, bob, "Ann", "Bob")
    bob.click("#hang-up")
    expect_call_over(ann, "Bob hung up.")
    expect_call_over(bob, "You hung up.")


def test_across_browsers_crossing_calls_end_in_one_call(join, other_browser):
    expect_crossing_calls_settle(join("Ann"), join("Bob", in_browser=other_browser))
