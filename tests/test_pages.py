"""What every step's page owes a learner, whatever its lesson: it loads without a failed request (a
red line in DevTools, which the READMEs ask learners to open), and it fits a phone held upright
(the workshop invites every phone on the Wi-Fi) with its controls in reach and its videos playing
inline."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
STEPS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
# The steps whose page is a video call once two have joined.
VIDEO_STEPS = {5, 6, 9, 10, 15}
# The controls a learner must reach on each step's page, before and after joining.
CONTROLS = {
    1: ["#start", "#hangup", "#input-a", "#send-a", "#input-b", "#send-b"],
    2: ["#name", "#room", "#join", "#leave", "#message", "#send"],
    3: ["#name", "#room", "#join", "#leave"],
    4: ["#name", "#room", "#join", "#leave", "#message", "#send"],
    5: ["#name", "#room", "#join", "#leave", "#mic-toggle", "#camera-toggle", "#local-video"],
    6: ["#name", "#room", "#join", "#leave", "#mic-toggle", "#camera-toggle", "#message"],
    7: ["#name", "#room", "#relay-only", "#join", "#leave", "#message", "#send"],
    8: ["#name", "#room", "#join", "#leave", "#message", "#send", "#files", "#send-files"],
    9: ["#name", "#room", "#join", "#leave", "#mic-toggle", "#camera-toggle", "#share-toggle"],
    10: [
        "#name",
        "#room",
        "#join",
        "#leave",
        "#mic-toggle",
        "#camera-toggle",
        "#record",
        "#message",
    ],
    11: ["#name", "#room", "#join", "#leave"],
    12: ["#name", "#room", "#join", "#new-private", "#leave", "#message", "#send"],
    13: [
        "#name",
        "#room",
        "#join",
        "#leave",
        "#mic-toggle",
        "#camera-toggle",
        "#edges",
        "#message",
    ],
    14: ["#stream", "#token", "#publish", "#stop", "#mic-toggle", "#camera-toggle"],
    15: ["#name", "#room", "#join", "#leave", "#passphrase", "#use-key", "#message"],
}
# Step 14 has two pages: the publisher's (/) and the viewer's, with controls of its own.
WATCH_CONTROLS = ["#stream", "#watch", "#stop", "#broadcast-video"]
# What a step's server needs to be started with: step 14's publishing token, known to the test.
STEP_ENV = {14: {"PUBLISH_TOKEN": "test-token-for-step-14"}}
# And once two people are in the room.
JOINED_CONTROLS = {
    3: ["#users li button", ".chat:not([hidden]) .message", ".chat:not([hidden]) .send"],
    7: ["#candidates tbody tr:first-child"],
    11: ["#users li .call-button", "#hang-up", "#local-video", "#remote-tile video"],
    12: ["#rooms li .join-room", "#invite-link", "#copy-link"],
    13: ["#room-video", "#local-video"],
    14: ["#watch-link", "#local-video"],
}
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def phone(new_page, browser_name):
    """phone(url) -> a page with a phone's viewport, and the failed requests it made."""
    listening = []

    def open_page(url):
        # Firefox has no mobile emulation in Playwright: the viewport and touch are what matter.
        mobile = {"is_mobile": True} if browser_name == "chromium" else {}
        failures = []
        listeners = {
            "response": lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}"),
            "requestfailed": lambda r: failures.append(f"failed {r.url}"),
        }
        page = new_page("about:blank", viewport=PHONE, has_touch=True, **mobile)
        for event, listener in listeners.items():
            page.on(event, listener)
        listening.append((page, listeners))
        page.goto(url)
        return page, failures

    yield open_page
    for page, listeners in listening:  # the page is kept for a later test: it stops listening
        for event, listener in listeners.items():
            page.remove_listener(event, listener)


def expect_fits(page, step, joined=False, controls=None):
    assert page.evaluate(OVERFLOW) <= 0, f"step {step} scrolls sideways on a 360 px screen"
    controls = controls or CONTROLS[step] + (JOINED_CONTROLS.get(step, []) if joined else [])
    for selector in controls:
        control = page.locator(selector)
        expect(control).to_be_visible()
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (step, selector, box)


@pytest.mark.parametrize("step", STEPS)
def test_every_page_loads_without_a_failed_request(start_server, phone, step):
    server = start_server(step, **STEP_ENV.get(step, {}))
    for path in ("/", "/watch.html") if step == 14 else ("/",):
        page, failures = phone(server.url + path)
        expect(page.locator("h1")).to_be_visible()
        page.wait_for_load_state("networkidle")  # every request the page makes is answered
        assert failures == [], path
    # Chromium fetches the icon outside the page's own requests, so ask for it as it does: the
    # page's <link rel=icon>, and /favicon.ico for browsers that ask there anyway.
    icon = page.locator("link[rel=icon]").get_attribute("href")
    for path in (icon, "/favicon.ico"):
        response = page.request.get(server.url + path)
        assert response.status == 200, path
        assert response.headers["content-type"].startswith("image/svg+xml"), path


@pytest.mark.parametrize("step", STEPS)
def test_every_page_fits_a_phone_before_and_after_joining(start_server, phone, room, step):
    server = start_server(step, **STEP_ENV.get(step, {}))
    url = f"{server.url}/?room={room}"
    if step == 15:
        url += "#key=one-for-both"  # or each page makes a passphrase of its own
    if step == 14:
        url = f"{server.url}/?stream={room}#token={STEP_ENV[14]['PUBLISH_TOKEN']}"
    page, _ = phone(url)
    expect_fits(page, step)
    if step == 14:  # live, and watched on another phone
        page.click("#publish")
        expect(page.locator("#server-state")).to_have_text("connected")
        viewer, _ = phone(f"{server.url}/watch.html?stream={room}")
        expect_fits(viewer, step, controls=WATCH_CONTROLS)
        viewer.click("#watch")
        viewer.wait_for_function("document.querySelector('#broadcast-video').videoWidth > 0")
        expect_fits(viewer, step, controls=WATCH_CONTROLS)
        expect_fits(page, step, joined=True)
        expect(page.locator("#viewer-count")).to_have_text("1")
        expect_inline(page)
        expect_inline(viewer)
        return
    if step == 1:
        page.click("#start")
        expect(page.locator("#state-a")).to_have_text("connected")
        expect_fits(page, step)
        return
    other, _ = phone(url)
    for user, name in ((page, "Ann"), (other, "Bob")):
        expect(user.locator("#signaling-state")).to_have_text("connected")
        user.fill("#name", name)
        user.click("#join")
        expect(user.locator("#leave")).to_be_enabled()
    if step == 3:
        page.locator('#users li[data-peer-name="Bob"] button').click()
        expect(page.locator('.chat[data-peer-name="Bob"] .send')).to_be_enabled()
    elif step == 11:  # a call, accepted
        page.locator('#users li[data-peer-name="Bob"] .call-button').click()
        other.click("#accept")
        page.wait_for_function("document.querySelector('#remote-tile video').videoWidth > 0")
    elif step == 13:  # one picture of the room, made by the server
        page.wait_for_function("document.querySelector('#room-video').videoWidth > 0")
    elif step in VIDEO_STEPS:
        expect(page.locator(".remote-tile video")).to_have_count(1)
        page.wait_for_function("document.querySelector('.remote-tile video').videoWidth > 0")
    else:
        expect(page.locator("#send")).to_be_enabled()
    expect_fits(page, step, joined=True)
    expect_inline(page)


def expect_inline(page):
    """iOS plays a video inline only with playsinline; without it, every tile goes full screen."""
    videos = page.locator("video")
    for index in range(videos.count()):
        expect(videos.nth(index)).to_have_attribute("playsinline", "")


def test_a_link_can_give_the_name_as_the_readmes_do(start_server, new_page, room):
    """The READMEs call the tabs Ann and Bob: /?name=Ann fills the name in; without it the page
    makes one up."""
    server = start_server(2)
    ann = new_page(f"{server.url}/?room={room}&name=Ann")
    expect(ann.locator("#name")).to_have_value("Ann")
    made_up = [new_page(f"{server.url}/?room={room}").locator("#name") for _ in range(2)]
    expect(made_up[0]).to_have_value(re.compile(r"^[A-Z][a-z]+-\d\d$"))
    expect(made_up[1]).to_have_value(re.compile(r"^[A-Z][a-z]+-\d\d$"))


def test_a_scrolled_log_fades_its_top_edge_instead_of_cutting_a_line(start_server, new_page):
    """A log with more lines than it shows scrolls to the newest; the line cut by its top edge
    fades out (a mask), so it reads as "more above". Scrolled back to the top, nothing fades."""
    page = new_page(start_server(2).url + "/")
    mask = "getComputedStyle(document.querySelector('#log')).maskImage"
    page.evaluate("appendLine(document.querySelector('#log'), 'one line')")
    assert page.evaluate(mask) == "none"
    page.evaluate(
        "for (let i = 0; i < 40; i++) appendLine(document.querySelector('#log'), `line ${i}`)"
    )
    assert "gradient" in page.evaluate(mask)
    page.evaluate("document.querySelector('#log').scrollTop = 0")
    page.wait_for_function(f"{mask} === 'none'")
