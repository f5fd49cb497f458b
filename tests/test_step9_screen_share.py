"""Step 9 in real browsers: screen sharing in step 5's video mesh, by replaceTrack().

"Seeing someone's screen" is proved the way a person would notice it: their tile's <video> takes
the screen's shape (16:9, against the camera's 4:3) and the frames decoded from them keep rising,
before, during and after sharing. "Without a new offer" is proved by counting, in every page, the
offers its connections make (an init script wraps setLocalDescription; main.js has no test hook).

Where the screens come from:
- Chromium: its own fake. The flags the suite always passes (tests/browsers.py:
  --use-fake-device-for-media-stream and --use-fake-ui-for-media-stream) also answer
  getDisplayMedia() at once, without a picker, with a fake screen of 1280x720 (a moving pattern).
- Firefox: a stand-in, FIREFOX_SCREEN below. Firefox fakes only cameras and microphones
  (media.navigator.streams.fake); for a screen it asks the real desktop, and a headless Firefox
  has none, so its getDisplayMedia() rejects with NotFoundError. Everything after the picker
  (replaceTrack, ended, the preview, the tiles) runs for real in Firefox too.
"""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# As in step 5's tests: a first connection takes several seconds when other browser tests share
# the machine.
CONNECT_TIMEOUT = 20_000

# Counts the offers this page makes, on any of its connections: `offersMade`.
COUNT_OFFERS = """
(() => {
  window.offersMade = 0;
  const setLocal = RTCPeerConnection.prototype.setLocalDescription;
  RTCPeerConnection.prototype.setLocalDescription = async function (...args) {
    await setLocal.apply(this, args);
    if (this.localDescription?.type === 'offer') {
      window.offersMade += 1;
    }
  };
})();
"""

# Firefox's getDisplayMedia(), headless and with no desktop to capture, finds no screen: this
# stands in for it with a canvas of a screen's shape, 640x360 (16:9 like Chromium's fake screen),
# redrawn 15 times a second. (The real one also wants a recent click, but a page Playwright opens
# in Firefox counts as activated already, so a check here would prove nothing.)
FIREFOX_SCREEN = """
(() => {
  MediaDevices.prototype.getDisplayMedia = async function () {
    const canvas = Object.assign(document.createElement('canvas'), {width: 640, height: 360});
    const context = canvas.getContext('2d');
    let frame = 0;
    setInterval(() => {
      context.fillStyle = `hsl(${(frame += 7) % 360} 60% 50%)`;
      context.fillRect(0, 0, canvas.width, canvas.height);
    }, 66);
    return canvas.captureStream(15);
  };
})();
"""

# A user who closes the browser's picker without choosing: it rejects as browsers do then.
CANCEL_PICKER = """
MediaDevices.prototype.getDisplayMedia = async () => {
  throw new DOMException('Permission denied', 'NotAllowedError');
};
"""

# What the browser does when the user presses its own "Stop sharing" (Chromium's bar, Firefox's
# sharing indicator) or closes the shared window: the capture stops and the track fires `ended`.
# A headless browser has no such control to press, and track.stop() from the page fires no
# `ended` (the specification says so), so the test does both halves itself. This proves what
# main.js does on `ended`; it cannot prove that a browser fires it.
STOP_FROM_THE_BROWSER = """() => {
  const [screen] = document.querySelector('#local-video').srcObject.getVideoTracks();
  screen.stop();
  screen.dispatchEvent(new Event('ended'));
}"""

# getStats() answers with a promise, but a wait_for_function predicate must answer at once: each
# poll starts a new reading and answers with the latest one finished.
RISING = """(() => {
  let latest = null;
  return ([name, before]) => {
    framesDecodedFrom(name).then((value) => { latest = value; });
    return latest !== null && latest > before;
  };
})()"""

# The shape of what a <video> plays: a screen here is 16:9 (1.78), a camera 4:3 (1.33). The
# encoder may scale a picture down when the machine is busy, but it keeps its shape.
SHAPE_IS = """([video, screen]) => video.videoWidth > 0 && !video.paused &&
  (video.videoWidth / video.videoHeight > 1.6) === screen"""


@pytest.fixture
def step9(start_server):
    return start_server(9)


@pytest.fixture
def user(new_page, browser, step9, room):
    """user(name, camera=True, init_script=None, in_browser=None) -> a page that has asked to
    join the test's room, counting its offers, with a screen to share in either browser."""

    def open_user(name, camera=True, init_script=None, in_browser=None):
        in_browser = in_browser or browser
        scripts = [COUNT_OFFERS, init_script]
        if in_browser.browser_type.name == "firefox":
            scripts.insert(0, FIREFOX_SCREEN)
        page = new_page(
            f"{step9.url}/?room={room}",
            in_browser=in_browser,
            init_script="\n".join(script for script in scripts if script),
        )
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.fill("#name", name)
        page.set_checked("#camera-on-join", camera)
        page.click("#join")
        return page

    return open_user


def remote_tile_video(name):
    return f'.remote-tile[data-peer-name="{name}"] video'


def remote_video(page, name):
    return page.locator(remote_tile_video(name))


def tile(page, name):
    return page.locator(f'.remote-tile[data-peer-name="{name}"]')


def expect_enlarged(page, name, other, enlarged=True):
    """`name`'s tile takes the whole width of the grid (twice `other`'s and more), or does not."""
    expect(tile(page, name)).to_have_class(
        re.compile(r"\benlarged\b" if enlarged else r"^((?!enlarged).)*$")
    )
    ratio = tile(page, name).bounding_box()["width"] / tile(page, other).bounding_box()["width"]
    assert ratio > 1.5 if enlarged else abs(ratio - 1) < 0.05, (name, ratio)


def expect_shape(page, selector, screen):
    """The <video> at `selector` plays a screen (16:9) if `screen`, else a camera (4:3)."""
    video = page.locator(selector)
    expect(video).to_be_visible()
    try:
        page.wait_for_function(SHAPE_IS, arg=[video.element_handle(), screen], polling=100)
    except PlaywrightTimeoutError:
        size = video.evaluate("v => `${v.videoWidth}x${v.videoHeight}`")
        wanted = "a screen (16:9)" if screen else "a camera (4:3)"
        # Said as Playwright says it, so that `make check` names the element.
        raise AssertionError(f'locator("{selector}") plays {size}, not {wanted}') from None


def expect_frames_rising(page, name):
    before = page.evaluate("name => framesDecodedFrom(name)", name)
    try:
        page.wait_for_function(RISING, arg=[name, before], polling=100)
    except PlaywrightTimeoutError:
        raise AssertionError(f"the frames decoded from {name} stayed at {before}") from None


def expect_sees(page, name, screen):
    """The page shows name's screen (or camera), and more and more frames of it."""
    expect(remote_video(page, name)).to_be_visible()
    expect_shape(page, remote_tile_video(name), screen)
    expect_frames_rising(page, name)


def expect_preview(page, screen):
    expect_shape(page, "#local-video", screen)


def offers(*pages):
    return [page.evaluate("offersMade") for page in pages]


def sent_video(page):
    """A handle on the video track the page sends now (its preview's)."""
    return page.evaluate_handle(
        "document.querySelector('#local-video').srcObject.getVideoTracks()[0]"
    )


def test_sharing_switches_every_tile_to_the_screen_and_back_without_an_offer(user):
    ann, bob, cat = user("Ann"), user("Bob"), user("Cat")
    watchers = ((bob, "Bob"), (cat, "Cat"))
    for page, _ in watchers:
        expect(remote_video(page, "Ann")).to_be_visible(timeout=CONNECT_TIMEOUT)
        expect_sees(page, "Ann", screen=False)
    expect_sees(ann, "Bob", screen=False)
    expect_sees(ann, "Cat", screen=False)
    before = offers(ann, bob, cat)
    assert all(count > 0 for count in before[1:])  # the counter sees the newcomers' offers

    ann.click("#share-toggle")
    expect(ann.locator("#share-toggle")).to_have_text("Back to camera")
    expect(ann.locator("#share-toggle")).to_have_attribute("aria-pressed", "true")
    expect(ann.locator("#log")).to_contain_text("You are sharing your screen")
    expect_preview(ann, screen=True)  # what Ann sees of herself is what she sends
    for page, name in watchers:
        expect_sees(page, "Ann", screen=True)
        # Told, and the screen enlarged to be read: the whole width of the grid.
        expect(page.locator("#log")).to_contain_text("Ann is sharing their screen.")
        expect_enlarged(page, "Ann", other="Cat" if name == "Bob" else "Bob")
    screen = sent_video(ann)
    expect_sees(ann, "Bob", screen=False)  # sharing left the others' cameras alone
    assert offers(ann, bob, cat) == before  # replaceTrack: no new offer, anywhere
    assert ann.evaluate(
        """() => openPeerConnections().every((pc) => pc.getSenders().some(
          (sender) => sender.track === document.querySelector('#local-video').srcObject
            .getVideoTracks()[0]))"""
    )

    ann.click("#share-toggle")
    expect(ann.locator("#share-toggle")).to_have_text("Share screen")
    expect(ann.locator("#log")).to_contain_text("You are back to your camera")
    expect_preview(ann, screen=False)
    for page, name in watchers:
        expect_sees(page, "Ann", screen=False)
        expect(page.locator("#log")).to_contain_text("Ann is back to their camera.")
        expect_enlarged(page, "Ann", other="Cat" if name == "Bob" else "Bob", enlarged=False)
    # Any tile can be enlarged with a click, and shrunk with another.
    remote_video(bob, "Cat").click()
    expect_enlarged(bob, "Cat", other="Ann")
    remote_video(bob, "Cat").click()
    expect_enlarged(bob, "Cat", other="Ann", enlarged=False)
    assert offers(ann, bob, cat) == before
    assert screen.evaluate("track => track.readyState") == "ended"  # the capture is released
    expect(ann.locator("#media-error")).to_have_text("")


def test_stopping_from_the_browsers_own_control_brings_the_camera_back(user):
    ann, bob = user("Ann"), user("Bob")
    expect(remote_video(bob, "Ann")).to_be_visible(timeout=CONNECT_TIMEOUT)
    ann.click("#share-toggle")
    expect_sees(bob, "Ann", screen=True)
    before = offers(ann, bob)

    ann.evaluate(STOP_FROM_THE_BROWSER)
    expect(ann.locator("#share-toggle")).to_have_text("Share screen")
    expect_preview(ann, screen=False)
    expect_sees(bob, "Ann", screen=False)
    assert offers(ann, bob) == before

    ann.click("#share-toggle")  # and sharing again works as the first time
    expect_sees(bob, "Ann", screen=True)
    assert offers(ann, bob) == before


def test_a_cancelled_picker_is_explained_and_changes_nothing(user):
    ann, bob = user("Ann", init_script=CANCEL_PICKER), user("Bob")
    expect(remote_video(bob, "Ann")).to_be_visible(timeout=CONNECT_TIMEOUT)
    expect_sees(bob, "Ann", screen=False)
    before = offers(ann, bob)

    ann.click("#share-toggle")
    expect(ann.locator("#media-error")).to_have_text(
        "Screen not shared: the picker was closed without choosing, or sharing is blocked for "
        "this site."
    )
    expect(ann.locator("#share-toggle")).to_have_text("Share screen")
    expect_preview(ann, screen=False)
    expect_sees(bob, "Ann", screen=False)  # Bob still sees Ann's camera, frames still rising
    assert offers(ann, bob) == before


def test_without_a_camera_there_is_nothing_to_replace_and_the_page_says_so(user):
    ann = user("Ann", camera=False, init_script=CANCEL_PICKER)  # the picker must not be needed
    expect(ann.locator("#share-toggle")).to_be_enabled()
    ann.click("#share-toggle")
    expect(ann.locator("#media-error")).to_contain_text("Turn your camera on first")
    expect(ann.locator("#share-toggle")).to_have_text("Share screen")


def test_a_late_joiner_sees_the_screen_and_leaving_releases_both_tracks(user):
    ann, bob = user("Ann"), user("Bob")
    expect(remote_video(bob, "Ann")).to_be_visible(timeout=CONNECT_TIMEOUT)
    expect_preview(ann, screen=False)
    camera = sent_video(ann)
    ann.click("#share-toggle")
    expect_sees(bob, "Ann", screen=True)

    cat = user("Cat")  # joins while Ann shares: Ann's connection to her is made with the screen
    expect(remote_video(cat, "Ann")).to_be_visible(timeout=CONNECT_TIMEOUT)
    expect_sees(cat, "Ann", screen=True)
    expect_sees(cat, "Bob", screen=False)
    before = offers(ann, bob, cat)

    ann.click("#share-toggle")  # back to the camera on the newcomer's connection too
    expect_sees(cat, "Ann", screen=False)
    expect_sees(bob, "Ann", screen=False)
    assert offers(ann, bob, cat) == before

    ann.click("#share-toggle")
    expect_sees(cat, "Ann", screen=True)
    expect_preview(ann, screen=True)
    screen = sent_video(ann)
    ann.click("#leave")  # while sharing: the screen, and the camera kept aside, are both released
    expect(ann.locator("#share-toggle")).to_have_text("Share screen")
    expect(ann.locator("#share-toggle")).to_be_disabled()
    assert ann.evaluate("document.querySelector('#local-video').srcObject") is None
    assert camera.evaluate("track => track.readyState") == "ended"  # the camera's light is off
    assert screen.evaluate("track => track.readyState") == "ended"
    for page in (bob, cat):
        expect(remote_video(page, "Ann")).to_have_count(0)


def test_across_browsers_each_shares_its_screen_with_the_other_without_an_offer(
    user, other_browser
):
    # Run once with each browser first: Bob, in the other browser, is the newcomer and calls.
    ann = user("Ann")
    bob = user("Bob", in_browser=other_browser)
    expect(remote_video(ann, "Bob")).to_be_visible(timeout=CONNECT_TIMEOUT)
    expect_sees(bob, "Ann", screen=False)
    expect_sees(ann, "Bob", screen=False)
    before = offers(ann, bob)

    ann.click("#share-toggle")
    expect_sees(bob, "Ann", screen=True)
    bob.click("#share-toggle")
    expect_sees(ann, "Bob", screen=True)
    expect_sees(bob, "Ann", screen=True)
    assert offers(ann, bob) == before

    ann.click("#share-toggle")
    bob.evaluate(STOP_FROM_THE_BROWSER)
    expect_sees(bob, "Ann", screen=False)
    expect_sees(ann, "Bob", screen=False)
    assert offers(ann, bob) == before
