"""Step 5 in real browsers with the fake camera: a video mesh, mute and camera toggles,
renegotiation, colliding offers, a refused camera and the room cap.

"Seeing someone" is proved the way a person would notice it: their tile's <video> has a size,
and the frames decoded from them (getStats inbound-rtp) keep rising. At most three pages per
test: video is heavy for a 2-core machine.
"""

import pytest
from playwright.sync_api import expect

from step5_video.server import ROOM_CAPACITY
from tests.signaling_client import Member

pytestmark = pytest.mark.browser

# Video pages connect in well under a second on an idle 2-core machine, but take several seconds
# when other browser tests share it; waits for a first connection allow for that. (Waits on
# wait_for_function already have Playwright's 30 s.)
CONNECT_TIMEOUT = 20_000

# getUserMedia() answers with a promise, but a wait_for_function predicate must answer at once:
# each poll starts a new reading and answers with the latest one finished.
RISING = """(() => {
  let latest = null;
  return ([counter, name, before]) => {
    window[counter](name).then((value) => { latest = value; });
    return latest !== null && latest > before;
  };
})()"""

# A user who refuses permission: getUserMedia rejects as browsers do when the user says no.
REFUSE_MEDIA = """(() => {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) => (%s) ?
    Promise.reject(new DOMException('Permission denied', 'NotAllowedError')) :
    original(constraints);
})();"""
REFUSE_CAMERA = REFUSE_MEDIA % "constraints.video"
REFUSE_EVERYTHING = REFUSE_MEDIA % "true"


# A browser whose autoplay policy refuses sound: play() of an unmuted element rejects, as it does
# when the user has not interacted with the page.
REFUSE_AUTOPLAY = """(() => {
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    return this.muted ? play.call(this) :
      Promise.reject(new DOMException('play() needs a user gesture', 'NotAllowedError'));
  };
})();"""


@pytest.fixture
def step5(start_server):
    return start_server(5)


@pytest.fixture
def user(new_page, step5, room):
    """user(name, camera=True, init_script=None, route_socket=None, server=step5, in_browser=None)
    -> a page that has asked to join the test's room."""

    def open_user(
        name, camera=True, init_script=None, route_socket=None, server=step5, in_browser=None
    ):
        page = new_page(
            f"{server.url}/?room={room}",
            in_browser=in_browser,
            init_script=init_script,
            route_socket=route_socket,
        )
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.fill("#name", name)
        page.set_checked("#camera-on-join", camera)
        page.click("#join")
        return page

    return open_user


def tile(page, name):
    return page.locator(f'.remote-tile[data-peer-name="{name}"]')


def status(page, name):
    return tile(page, name).locator(".tile-status")


def expect_rising(page, counter, name):
    """The page's counter (framesDecodedFrom, audioPacketsFrom) for `name` goes up."""
    before = page.evaluate(f"name => {counter}(name)", name)
    page.wait_for_function(RISING, arg=[counter, name, before], polling=100)


def expect_video_from(page, name):
    """The page shows name's video: the element plays, has a size, and more and more frames are
    decoded."""
    video = tile(page, name).locator("video")
    expect(video).to_be_visible()
    page.wait_for_function(
        "video => video.videoWidth > 0 && !video.paused", arg=video.element_handle()
    )
    expect_rising(page, "framesDecodedFrom", name)


def offers_sent(page, name):
    return page.locator("#log li", has_text=f"Sent an offer to {name}.").count()


def test_three_users_see_each_other_and_a_leave_removes_the_tile(user):
    pages = {name: user(name) for name in ("Ann", "Bob", "Cat")}
    for name, page in pages.items():
        # Our own camera first, as the lesson goes (openLocalMedia), then the others'.
        expect(page.locator("#local-name")).to_have_text(f"{name} (you)")
        page.wait_for_function("document.querySelector('#local-video').videoWidth > 0")
        expect(page.locator(".remote-tile")).to_have_count(2, timeout=CONNECT_TIMEOUT)
        for other in pages:
            if other != name:
                expect_video_from(page, other)
                expect(tile(page, other).locator(".tile-name")).to_have_text(other)
                # The Join click let remote videos play with their sound: no unmute needed.
                expect(tile(page, other).locator(".unmute")).to_be_hidden()
                assert tile(page, other).locator("video").evaluate("video => video.muted") is False
        assert page.evaluate("openPeerConnections().length") == 2
        # The cost of a mesh, in numbers: two connections here, and our camera sent twice.
        expect(page.locator("#connection-count")).to_have_text("2")
        expect(page.locator("#video-count")).to_have_text("2")
        expect(page.locator("#summary")).to_have_text(
            "3 in the room: 2 connections per person, 3 in the whole mesh; "
            "your camera is sent 2 times."
        )

    cat_tracks = pages["Cat"].evaluate_handle(
        "document.querySelector('#local-video').srcObject.getTracks()"
    )
    assert cat_tracks.evaluate("tracks => tracks.length") == 2
    pages["Cat"].click("#leave")
    for name in ("Ann", "Bob"):
        expect(tile(pages[name], "Cat")).to_have_count(0)
        expect(pages[name].locator(".remote-tile")).to_have_count(1)
        assert pages[name].evaluate("openPeerConnections().length") == 1
        expect(pages[name].locator("#summary")).to_contain_text("your camera is sent once.")
    expect(pages["Cat"].locator(".remote-tile")).to_have_count(0)
    assert pages["Cat"].evaluate("openPeerConnections().length") == 0
    expect(pages["Cat"].locator("#summary")).to_have_text("Join a room to see what it costs.")
    assert pages["Cat"].evaluate("document.querySelector('#local-video').srcObject") is None
    assert cat_tracks.evaluate("tracks => tracks.every((t) => t.readyState === 'ended')")
    expect_video_from(pages["Ann"], "Bob")  # the two who stayed still see each other


def test_a_refused_autoplay_plays_muted_and_a_click_unmutes(user):
    user("Ann")
    bob = user("Bob", init_script=REFUSE_AUTOPLAY)
    # Bob's browser will not play sound unasked: Ann's video still plays, muted, with a button.
    expect_video_from(bob, "Ann")
    video = tile(bob, "Ann").locator("video")
    assert video.evaluate("video => video.muted") is True
    tile(bob, "Ann").locator(".unmute").click()
    expect(tile(bob, "Ann").locator(".unmute")).to_be_hidden()
    assert video.evaluate("video => video.muted") is False


def test_camera_off_and_mute_show_on_the_other_page_without_renegotiating(user):
    ann = user("Ann")
    bob = user("Bob")
    expect_video_from(ann, "Bob")
    expect(status(ann, "Bob")).to_have_text("")
    offers = offers_sent(bob, "Ann"), offers_sent(ann, "Bob")
    ann.set_viewport_size({"width": 600, "height": 800})  # two tiles of about 250 px a row
    one_line = tile(ann, "Bob").locator("figcaption").bounding_box()["height"]

    bob.click("#camera-toggle")
    expect(bob.locator("#camera-toggle")).to_have_text("Turn camera on")
    expect(bob.locator("#local-status")).to_have_text("camera off")
    expect(status(ann, "Bob")).to_have_text("camera off")
    expect(tile(ann, "Bob").locator("video")).to_be_hidden()

    bob.click("#mic-toggle")
    expect(bob.locator("#mic-toggle")).to_have_text("Unmute microphone")
    expect(status(ann, "Bob")).to_have_text("muted · camera off")
    # The caption stays one line (a long status is cut short), so this tile is no taller.
    assert tile(ann, "Bob").locator("figcaption").bounding_box()["height"] <= one_line + 1

    bob.click("#camera-toggle")
    expect(status(ann, "Bob")).to_have_text("muted")
    expect_video_from(ann, "Bob")
    bob.click("#mic-toggle")
    expect(status(ann, "Bob")).to_have_text("")
    expect_rising(ann, "audioPacketsFrom", "Bob")
    # Only enabled flags changed: the tracks stayed on the connection, so no new offer was made.
    assert (offers_sent(bob, "Ann"), offers_sent(ann, "Bob")) == offers


def test_a_camera_turned_on_after_joining_reaches_everyone_by_renegotiation(user):
    ann = user("Ann")
    bob = user("Bob")
    cat = user("Cat", camera=False)
    for page in (ann, bob):
        expect(status(page, "Cat")).to_have_text("camera off", timeout=CONNECT_TIMEOUT)
    expect_video_from(cat, "Ann")
    expect_video_from(cat, "Bob")
    expect(cat.locator("#local-status")).to_have_text("camera off")
    offers = {name: offers_sent(cat, name) for name in ("Ann", "Bob")}

    cat.click("#camera-toggle")
    for name, page in (("Ann", ann), ("Bob", bob)):
        expect(status(page, "Cat")).to_have_text("")
        expect_video_from(page, "Cat")
        assert offers_sent(cat, name) > offers[name]  # the new track needed a new offer
    cat.wait_for_function("document.querySelector('#local-video').videoWidth > 0")
    expect_video_from(ann, "Bob")  # the renegotiation left the others' videos alone


class HeldInbox:
    """Routes a page's socket.io WebSocket through the test, which can hold back everything the
    server sends to the page, and let it through later in the same order."""

    def __init__(self):
        self.page_side = None
        self.holding = False
        self.held = []

    def route(self, websocket):
        self.page_side = websocket
        server = websocket.connect_to_server()  # the page's own messages go through untouched
        server.on_message(self.from_server)

    def from_server(self, message):
        if self.holding:
            self.held.append(message)
        else:
            self.page_side.send(message)

    def release(self):
        self.holding = False
        for message in self.held:
            self.page_side.send(message)
        self.held.clear()


def test_colliding_offers_are_settled_by_the_polite_peer(user):
    """Both users turn their camera on while neither has seen the other's offer: glare."""
    bob_inbox = HeldInbox()
    ann = user("Ann", camera=False)
    bob = user("Bob", camera=False, route_socket=bob_inbox.route)
    # The chat channel is open once the label says what the other's camera does (a state message).
    expect(status(ann, "Bob")).to_have_text("camera off", timeout=CONNECT_TIMEOUT)
    expect(status(bob, "Ann")).to_have_text("camera off", timeout=CONNECT_TIMEOUT)
    bob.wait_for_function("signaling.socket.io.engine.transport.name === 'websocket'")

    bob_inbox.holding = True
    ann.click("#camera-toggle")  # Ann's offer waits in Bob's inbox
    bob.click("#camera-toggle")  # Bob offers too, not knowing about Ann's
    expect(ann.locator("#log")).to_contain_text("Offer collision with Bob", timeout=CONNECT_TIMEOUT)
    bob_inbox.release()
    expect(bob.locator("#log")).to_contain_text("Offer collision with Ann")

    # Exactly one of the two gave way.
    logs = ann.locator("#log").inner_text() + bob.locator("#log").inner_text()
    assert logs.count("we are polite, so we roll ours back") == 1
    assert logs.count("we are impolite, so we ignore theirs") == 1
    expect(status(ann, "Bob")).to_have_text("")
    expect(status(bob, "Ann")).to_have_text("")
    expect_video_from(ann, "Bob")
    expect_video_from(bob, "Ann")


@pytest.mark.parametrize(
    ("refusal", "message", "bob_status"),
    [
        (REFUSE_CAMERA, "the others can hear you but not see you", "camera off"),
        (REFUSE_EVERYTHING, "the others can neither see nor hear you", "muted · camera off"),
    ],
    ids=["camera", "camera-and-microphone"],
)
def test_a_refused_camera_is_explained_and_the_user_still_watches(
    user, refusal, message, bob_status
):
    ann = user("Ann")
    bob = user("Bob", init_script=refusal)
    expect(bob.locator("#media-error")).to_contain_text("permission was refused")
    expect(bob.locator("#media-error")).to_contain_text(message)
    expect_video_from(bob, "Ann")
    expect_rising(bob, "audioPacketsFrom", "Ann")
    expect(status(ann, "Bob")).to_have_text(bob_status)
    if refusal == REFUSE_CAMERA:
        expect_rising(ann, "audioPacketsFrom", "Bob")  # Bob is still heard

    if refusal == REFUSE_EVERYTHING:  # no microphone to unmute: the button offers to open one
        expect(bob.locator("#mic-toggle")).to_have_text("Turn microphone on")
    bob.click("#camera-toggle")  # asking again is refused again, and said so
    expect(bob.locator("#media-error")).to_contain_text("Camera unavailable: permission")
    expect(bob.locator("#leave")).to_be_enabled()


def test_a_fifth_user_is_told_the_room_is_full(step5, room, user):
    assert ROOM_CAPACITY == 4
    members = [Member(step5.url) for _ in range(ROOM_CAPACITY)]
    try:
        for number, member in enumerate(members):
            member.join(room, f"Member{number}")
        eve = user("Eve")
        expect(eve.locator("#join-error")).to_contain_text("is full (4 members)")
        expect(eve.locator("#join-error")).to_contain_text("Pick another room name")
        expect(eve.locator("#join")).to_be_enabled()
        assert eve.evaluate("openPeerConnections().length") == 0
    finally:
        for member in members:
            member.close()


def test_a_call_survives_a_signaling_restart(user, own_server):
    server = own_server(5)
    ann, bob = user("Ann", server=server), user("Bob", server=server)
    expect_video_from(ann, "Bob")
    expect_video_from(bob, "Ann")

    server.stop()
    for page in (ann, bob):
        expect(page.locator("#signaling-state")).to_have_text("reconnecting")
    expect_video_from(ann, "Bob")  # the call does not need the server

    server.start()
    for page in (ann, bob):
        expect(page.locator("#log")).to_contain_text("rejoined the room", timeout=CONNECT_TIMEOUT)
    # Both are members again under new ids: mute state still flows, and a newcomer is seen.
    bob.click("#mic-toggle")
    expect(status(ann, "Bob")).to_have_text("muted")
    cat = user("Cat", server=server)
    for page, others in ((ann, ("Bob", "Cat")), (cat, ("Ann", "Bob"))):
        for other in others:
            expect_video_from(page, other)
    assert ann.evaluate("openPeerConnections().length") == 2


def test_across_browsers_video_sound_toggles_and_a_late_camera_cross_both_ways(user, other_browser):
    # Run once with each browser first. Bob, in the other browser, is the newcomer and calls;
    # his late camera makes him offer again.
    ann = user("Ann")
    bob = user("Bob", camera=False, in_browser=other_browser)
    expect_video_from(bob, "Ann")
    expect_rising(bob, "audioPacketsFrom", "Ann")
    expect(status(ann, "Bob")).to_have_text("camera off", timeout=CONNECT_TIMEOUT)

    bob.click("#camera-toggle")
    expect(status(ann, "Bob")).to_have_text("")
    expect_video_from(ann, "Bob")
    expect_rising(ann, "audioPacketsFrom", "Bob")

    ann.click("#mic-toggle")
    expect(status(bob, "Ann")).to_have_text("muted")
    ann.click("#camera-toggle")
    expect(status(bob, "Ann")).to_have_text("muted · camera off")
    expect(tile(bob, "Ann").locator("video")).to_be_hidden()

    bob.click("#leave")
    expect(tile(ann, "Bob")).to_have_count(0)
    assert ann.evaluate("openPeerConnections().length") == 0
