"""Step 15 in real browsers: step 6's call through the server, with every encoded frame encrypted
in the pages. What a person would see: pages with the same passphrase see and hear each other; a
page with another passphrase says "cannot decrypt" and decodes nothing; what the server forwards
does not decode into the sender's picture (while step 6's does); the passphrase never leaves the
page."""

import json
from pathlib import Path

import av
import pytest
from playwright.sync_api import expect

from tests.conftest import wait_until
from tests.test_step6_server_peer import CAMERAS, OWN_CAMERA, dominant, expect_video_from

pytestmark = pytest.mark.browser

PASSPHRASE = "otters-hold-hands-9"
CANNOT_DECRYPT = "cannot decrypt: different key?"
CONNECT_TIMEOUT = 20_000

# A member whose page does not encrypt: setting a sender's transform does nothing.
NO_ENCRYPTION = """
Object.defineProperty(RTCRtpSender.prototype, 'transform', {set() {}, get() { return null; }});
"""


@pytest.fixture
def step15(start_server):
    return start_server(15)


@pytest.fixture
def user(step15, room, new_page):
    """user(name, passphrase=PASSPHRASE, server=step15, in_browser=None, init_script="") -> a page
    that joined the test's room through a link carrying the passphrase, connected to the server."""

    def open_user(name, passphrase=PASSPHRASE, server=step15, in_browser=None, init_script=""):
        page = new_page(
            f"{server.url}/?room={room}#key={passphrase}",
            in_browser=in_browser,
            init_script=init_script or None,
        )
        expect(page.locator("#signaling-state")).to_have_text("connected")
        expect(page.locator("#passphrase")).to_have_value(passphrase)
        page.fill("#name", name)
        page.click("#join")
        expect(page.locator("#server-state")).to_have_text("connected", timeout=CONNECT_TIMEOUT)
        return page

    return open_user


def tile(page, name):
    return page.locator(f'.remote-tile[data-peer-name="{name}"]')


def expect_sound_from(page, name):
    """Sound from `name` is decoded: its energy keeps rising (dropped frames add none)."""
    before = page.evaluate("name => audioEnergyFrom(name)", name)
    wait_until(
        page, "async ([name, before]) => (await audioEnergyFrom(name)) > before", [name, before]
    )


def expect_nothing_decoded_from(page, name):
    """`name`'s frames reach the page (15 more video packets) but none is decoded or shown."""
    expect(tile(page, name).locator(".tile-key")).to_have_text(CANNOT_DECRYPT)
    expect(tile(page, name).locator("video")).to_be_hidden()
    before = page.evaluate("name => videoPacketsFrom(name)", name)
    wait_until(
        page, "async ([n, before]) => (await videoPacketsFrom(n)) >= before + 15", [name, before]
    )
    assert page.evaluate("name => framesDecodedFrom(name)", name) == 0


def use_passphrase(page, passphrase):
    page.fill("#passphrase", passphrase)
    page.click("#use-key")


def test_pages_with_one_passphrase_see_and_hear_each_other_through_the_server(user):
    ann, bob = user("Ann"), user("Bob")
    for page, other in ((ann, "Bob"), (bob, "Ann")):
        expect_video_from(page, other)
        expect_sound_from(page, other)
        # The worker said that it decrypts their frames, and the tile shows them.
        expect(tile(page, other)).to_have_attribute("data-key", "ok")
        expect(tile(page, other).locator(".tile-key")).to_have_text("")
        # The link to share carries the room and the passphrase, after the #.
        assert page.locator("#share-link").get_attribute("href").endswith(f"#key={PASSPHRASE}")


def tapped_pictures(folder):
    """Decodes, sender by sender, the VP8 frames a server forwarded; yields each picture decoded
    (as the RGB of its centre) and counts the frames libvpx refused."""
    streams = {}
    for path in sorted(Path(folder).glob("*.vp8")):
        streams.setdefault(path.name.split("-")[0], []).append(path.read_bytes())
    refused = 0
    pictures = []
    for frames in streams.values():
        decoder = av.CodecContext.create("libvpx", "r")
        for data in frames:
            try:
                decoded = decoder.decode(av.Packet(data))
            except av.error.FFmpegError:
                refused += 1
                continue
            for picture in decoded:
                rgb = picture.reformat(format="rgb24").planes[0]
                centre = rgb.line_size * (picture.height // 2) + 3 * (picture.width // 2)
                pictures.append(list(bytes(rgb)[centre : centre + 3]))
    return pictures, refused


@pytest.mark.parametrize("step", [6, 15])
def test_the_server_forwards_frames_that_only_the_pages_can_decode(
    start_server, new_page, room, tmp_path, step
):
    # Step 6 as it is, even when `make check` serves a learner's copy of step 15.
    server = start_server(
        step, FRAME_TAP_DIR=tmp_path, **({"PAGES": "solution"} if step == 6 else {})
    )
    pages = {}
    for name in ("Ann", "Bob"):
        camera = OWN_CAMERA % json.dumps(list(CAMERAS[name]))
        page = new_page(f"{server.url}/?room={room}#key={PASSPHRASE}", init_script=camera)
        page.fill("#name", name)
        page.click("#join")
        pages[name] = page
    # Both pages see each other's picture: the frames went through the server.
    expect_video_from(pages["Ann"], "Bob")
    expect_video_from(pages["Bob"], "Ann")

    pictures, refused = tapped_pictures(tmp_path)
    colours = {dominant(CAMERAS[name][2][4:-1].split(",")) for name in CAMERAS if name != "Cat"}
    seen = [picture for picture in pictures if dominant(picture) in colours]
    frames = len(list(tmp_path.glob("*.vp8")))
    assert frames >= 20
    if step == 6:
        assert seen, "step 6 forwards clear frames: the server could decode the pictures"
    else:
        assert seen == [], f"the server decoded {len(seen)} of {frames} frames into a picture"
        assert refused + len(pictures) > 0


def test_the_passphrase_never_leaves_the_page(step15, room, new_page):
    page = new_page("about:blank")
    sent = []
    page.on("request", lambda request: sent.append(f"{request.url} {request.post_data or ''}"))
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    bob = new_page(f"{step15.url}/?room={room}#key={PASSPHRASE}")
    bob.fill("#name", "Bob")
    bob.click("#join")
    page.goto(f"{step15.url}/?room={room}#key={PASSPHRASE}")
    page.fill("#name", "Ann")
    page.click("#join")
    expect_video_from(page, "Bob")
    use_passphrase(page, "a-second-secret")  # re-keying sends nothing either
    expect(tile(bob, "Ann").locator(".tile-key")).to_have_text(CANNOT_DECRYPT)  # it took effect

    assert any("signal" in text or "offer" in text for text in sent)  # the recording works
    for secret in (PASSPHRASE, "a-second-secret"):
        assert not [text for text in sent if secret in text]


def test_another_passphrase_decodes_nothing_until_the_right_one_is_typed(user):
    ann = user("Ann")
    user("Bob")
    cat = user("Cat", passphrase="not-the-same")
    for other in ("Ann", "Bob"):
        expect_nothing_decoded_from(cat, other)
    expect_nothing_decoded_from(ann, "Cat")
    expect_video_from(ann, "Bob")  # the two who share a key still see each other

    use_passphrase(cat, PASSPHRASE)
    for other in ("Ann", "Bob"):
        expect(tile(cat, other).locator(".tile-key")).to_have_text("")
        expect_video_from(cat, other)
    expect_video_from(ann, "Cat")


def test_a_changed_passphrase_rekeys_the_page_without_leaving(user):
    ann, bob = user("Ann"), user("Bob")
    expect_video_from(bob, "Ann")
    use_passphrase(ann, "the-new-one")
    # Ann sends under the new key at once; she still reads Bob's old key for a short overlap,
    # then no more.
    expect(tile(bob, "Ann").locator(".tile-key")).to_have_text(CANNOT_DECRYPT)
    expect(tile(ann, "Bob").locator(".tile-key")).to_have_text(CANNOT_DECRYPT, timeout=10_000)
    assert ann.evaluate("openPeerConnections().length") == 1  # the same connection

    use_passphrase(bob, "the-new-one")
    expect_video_from(bob, "Ann")
    expect_video_from(ann, "Bob")
    expect(tile(ann, "Bob").locator(".tile-key")).to_have_text("")


def test_clear_frames_from_a_page_that_does_not_encrypt_are_never_played(user):
    ann = user("Ann")
    user("Mallory", init_script=NO_ENCRYPTION)
    expect_nothing_decoded_from(ann, "Mallory")


def test_across_browsers_one_passphrase_sees_and_hears_through_the_server(user, other_browser):
    ann, bob = user("Ann"), user("Bob", in_browser=other_browser)
    for page, other in ((ann, "Bob"), (bob, "Ann")):
        expect_video_from(page, other)
        expect_sound_from(page, other)
