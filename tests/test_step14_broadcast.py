"""Step 14: broadcast. A publisher's page publishes with WHIP (one HTTP POST), viewers' pages
watch with WHEP, and the server forwards the publisher's packets to every viewer.

The publisher's camera is a canvas of one colour, so a viewer's picture is known to be the
publisher's; its microphone is the browser's fake one, so a viewer's sound is known by its energy.
The HTTP rules are checked with a raw HTTP client and offers made by aiortc, and a client nobody
here wrote, Debian's simple-whip-client, publishes to a browser viewer.
"""

import asyncio
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from playwright.sync_api import expect

from tests import whip_client
from tests.conftest import missing, wait_until
from tests.test_step9_screen_share import FIREFOX_SCREEN
from tests.test_step13_mixing import OWN_MEDIA

TOKEN = "test-token-for-step-14"
RED = "rgb(220, 40, 40)"
# ms from a late viewer's connection coming up to its first picture: the server asks the publisher
# for a keyframe at once (a browser's own comes every few minutes at best).
LATE_VIEWER_WITHIN = 2_000

# The colour at the centre of the viewer's picture, or null before it has one.
CENTRE_COLOUR = """() => {
  const video = document.querySelector('#broadcast-video');
  if (!video.videoWidth) return null;
  const canvas = Object.assign(document.createElement('canvas'), {width: 8, height: 8});
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0, 8, 8);
  return [...context.getImageData(4, 4, 1, 1).data.slice(0, 3)];
}"""
# The page's one connection's received total of `field` for `kind` (inbound-rtp).
RECEIVED = """async ([kind, field]) => {
  let total = 0;
  const pc = openPeerConnections()[0];
  if (!pc) return 0;
  (await pc.getStats()).forEach((report) => {
    if (report.type === 'inbound-rtp' && report.kind === kind) total += report[field] ?? 0;
  });
  return total;
}"""


@pytest.fixture
def step14(start_server):
    return start_server(14, PUBLISH_TOKEN=TOKEN)


def open_publisher(new_page, browser, server, stream, token=TOKEN):
    """The publishing page in `browser`, its camera RED, the token in the link's fragment."""
    init_script = OWN_MEDIA % json.dumps([RED, None])
    url = f"{server.url}/?stream={stream}#token={token}"
    return new_page(url, in_browser=browser, init_script=init_script)


def go_live(page):
    page.click("#publish")
    expect(page.locator("#server-state")).to_have_text("connected")
    expect(page.locator("#watch-link")).to_have_attribute(
        "href", f"watch.html?stream={stream_of(page)}"
    )


def stream_of(page):
    return page.input_value("#stream")


def open_viewer(new_page, browser, server, stream):
    page = new_page(f"{server.url}/watch.html?stream={stream}", in_browser=browser)
    page.click("#watch")
    expect(page.locator("#server-state")).to_have_text("connected")
    return page


def received(page, kind, field):
    return page.evaluate(RECEIVED, [kind, field])


def expect_rising(page, kind, field, by=0):
    """`field` of what the page receives of `kind` rises by more than `by`."""
    before = received(page, kind, field)
    wait_until(
        page,
        f"async (before) => (await ({RECEIVED})({json.dumps([kind, field])})) > before + {by}",
        before,
    )


def expect_broadcast(page, colour=RED):
    """The viewer's page plays the broadcast: a picture with a width, of the publisher's colour
    at its centre, frames decoded one after the other, and sound with energy in it."""
    expect(page.locator("#broadcast-state")).to_have_text("Live")
    page.wait_for_function("() => document.querySelector('#broadcast-video').videoWidth > 0")
    expect_rising(page, "video", "framesDecoded", by=5)
    expect_rising(page, "audio", "totalAudioEnergy")
    if colour is not None:
        wanted = [int(v) for v in colour[4:-1].split(",")]
        page.wait_for_function(
            f"""(wanted) => {{
              const rgb = ({CENTRE_COLOUR})();
              return rgb !== null && rgb.every((v, i) => Math.abs(v - wanted[i]) < 40);
            }}""",
            arg=wanted,
        )


def expect_viewer_count(page, count):
    expect(page.locator("#viewer-count")).to_have_text(str(count))


@pytest.mark.browser
def test_two_viewers_see_and_hear_what_the_publisher_sends(step14, room, new_page, browser):
    publisher = open_publisher(new_page, browser, step14, room)
    go_live(publisher)
    expect(publisher.locator("#log")).to_contain_text(f"You are live on stream {room}.")
    viewers = [open_viewer(new_page, browser, step14, room) for _ in range(2)]
    for viewer in viewers:
        expect_broadcast(viewer)
    expect_viewer_count(publisher, 2)
    assert publisher.evaluate("openPeerConnections().length") == 1


@pytest.mark.browser
def test_a_shared_screen_is_broadcast(step14, room, new_page, browser):
    """Screen instead of Camera: the viewers get a screen's shape, 16:9 (Chromium's fake screen,
    or FIREFOX_SCREEN), not the camera's 4:3."""
    firefox = browser.browser_type.name == "firefox"
    url = f"{step14.url}/?stream={room}#token={TOKEN}"
    publisher = new_page(url, in_browser=browser, init_script=FIREFOX_SCREEN if firefox else None)
    publisher.check("#source-screen")
    go_live(publisher)
    expect(publisher.locator("#camera-toggle")).to_have_text("Turn screen off")
    viewer = open_viewer(new_page, browser, step14, room)
    expect_broadcast(viewer, colour=None)
    width, height = viewer.evaluate(
        "(() => { const v = document.querySelector('#broadcast-video');"
        " return [v.videoWidth, v.videoHeight]; })()"
    )
    assert abs(width / height - 16 / 9) < 0.05, (width, height)


@pytest.mark.browser
def test_a_viewer_in_the_other_browser_sees_the_broadcast(
    step14, room, new_page, browser, other_browser
):
    publisher = open_publisher(new_page, browser, step14, room)
    go_live(publisher)
    expect_broadcast(open_viewer(new_page, other_browser, step14, room))
    expect_viewer_count(publisher, 1)


@pytest.mark.browser
def test_a_late_viewer_sees_the_picture_at_once(step14, room, new_page, browser):
    publisher = open_publisher(new_page, browser, step14, room)
    go_live(publisher)
    first = open_viewer(new_page, browser, step14, room)
    expect_broadcast(first)
    # The publisher's last keyframe is long gone: the late viewer's picture needs a new one.
    late = open_viewer(new_page, browser, step14, room)
    late.wait_for_function(
        "() => document.querySelector('#broadcast-video').videoWidth > 0",
        timeout=LATE_VIEWER_WITHIN,
    )
    expect_broadcast(late)


@pytest.mark.browser
def test_a_viewer_waiting_before_the_start_gets_the_broadcast_when_it_starts(
    step14, room, new_page, browser
):
    viewer = open_viewer(new_page, browser, step14, room)
    expect(viewer.locator("#broadcast-state")).to_have_text("Waiting for the broadcast to start…")
    publisher = open_publisher(new_page, browser, step14, room)
    go_live(publisher)
    expect_broadcast(viewer)
    expect_viewer_count(publisher, 1)


@pytest.mark.browser
def test_stopping_ends_every_viewers_picture_and_a_restart_brings_it_back(
    step14, room, new_page, browser
):
    publisher = open_publisher(new_page, browser, step14, room)
    go_live(publisher)
    viewers = [open_viewer(new_page, browser, step14, room) for _ in range(2)]
    for viewer in viewers:
        expect_broadcast(viewer)
    publisher.click("#stop")
    expect(publisher.locator("#server-state")).to_have_text("none")
    for viewer in viewers:
        expect(viewer.locator("#broadcast-state")).to_have_text("The broadcast has ended.")
        assert viewer.evaluate("document.querySelector('#broadcast-video').srcObject") is None
        expect(viewer.locator("#log")).to_contain_text("The broadcast has ended.")
    # The same viewers, without reloading, see the next broadcast on that stream.
    go_live(publisher)
    for viewer in viewers:
        expect_broadcast(viewer)


@pytest.mark.browser
def test_a_viewer_who_leaves_is_counted_out_and_closed(step14, room, new_page, browser):
    publisher = open_publisher(new_page, browser, step14, room)
    go_live(publisher)
    staying, leaving = (open_viewer(new_page, browser, step14, room) for _ in range(2))
    expect_viewer_count(publisher, 2)
    before = http(step14.url + "/broadcast/stats")[2]
    leaving.click("#stop")
    expect_viewer_count(publisher, 1)
    after = json.loads(http(step14.url + "/broadcast/stats")[2])
    assert after["peerConnections"] == json.loads(before)["peerConnections"] - 1
    expect_broadcast(staying)


@pytest.mark.browser
def test_the_publisher_page_says_why_it_was_refused(step14, room, new_page, browser):
    wrong = open_publisher(new_page, browser, step14, room, token="not-the-token")
    wrong.click("#publish")
    expect(wrong.locator("#publish-error")).to_contain_text("(401)")
    expect(wrong.locator("#server-state")).to_have_text("none")
    expect(wrong.locator("#publish")).to_be_enabled()
    expect(wrong.locator("#local-status")).to_have_text("not live")
    # Typed instead of in the link: the token the server printed.
    wrong.fill("#token", TOKEN)
    go_live(wrong)
    second = open_publisher(new_page, browser, step14, room)
    second.click("#publish")
    expect(second.locator("#publish-error")).to_contain_text(f"(409): stream {room} is live")


@pytest.mark.browser
def test_simple_whip_client_publishes_to_a_browser_viewer(
    step14, room, new_page, browser, tmp_path
):
    if not whip_client.available():
        missing(whip_client.HOW_TO_GET_ONE)
    client = whip_client.WhipClient(f"{step14.url}/whip/{room}", TOKEN, tmp_path)
    try:
        viewer = open_viewer(new_page, browser, step14, room)
        try:
            expect_broadcast(viewer, colour=None)  # GStreamer's ball: not one colour
        except AssertionError:
            pytest.fail(f"whip-client's picture never came; its log:\n{client.log()}")
        size = viewer.evaluate(
            "(() => { const v = document.querySelector('#broadcast-video');"
            " return [v.videoWidth, v.videoHeight]; })()"
        )
        assert size == [320, 240]
    finally:
        client.stop()  # SIGTERM: it sends its DELETE
    expect(viewer.locator("#broadcast-state")).to_have_text("The broadcast has ended.")


# The HTTP rules, with a raw client -----------------------------------------------------------


def run(coroutine):
    """Runs an aiortc coroutine to its end, in a thread of its own: Playwright's sync API keeps an
    event loop running in this one when a browser test ran first in this worker."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, asyncio.wait_for(coroutine, 60)).result()


def http(url, method="GET", body=None, headers=None):
    """(status, headers, text) of one request, whatever the status."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def post_offer(url, sdp, token=TOKEN, content_type="application/sdp"):
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return http(url, "POST", sdp.encode(), headers)


async def publish_from_aiortc(url, codec=None, direction="sendonly"):
    """An aiortc peer's offer (video and audio, `direction`; only `codec` for the video if
    given), POSTed to `url`. Returns (status, headers, text, pc): a 201's answer is set, so the
    connection comes up and stays while the test runs; the caller closes pc."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    video = pc.addTransceiver("video", direction=direction)
    pc.addTransceiver("audio", direction=direction)
    if codec:
        codecs = RTCRtpSender.getCapabilities("video").codecs
        video.setCodecPreferences([c for c in codecs if c.mimeType == f"video/{codec}"])
    await pc.setLocalDescription(await pc.createOffer())
    status, headers, text = await asyncio.to_thread(post_offer, url, pc.localDescription.sdp)
    if status == 201:
        await pc.setRemoteDescription(RTCSessionDescription(text, "answer"))
    return status, headers, text, pc


def test_whip_and_whep_answer_with_201_an_answer_and_an_unguessable_location(step14, room):
    async def scenario():
        status, headers, answer, pc = await publish_from_aiortc(f"{step14.url}/whip/{room}")
        try:
            assert status == 201, answer
            assert headers["Content-Type"] == "application/sdp"
            assert answer.startswith("v=0") and "a=candidate:" in answer
            # aiortc is the DTLS server, so clients with RSA certificates (GStreamer) connect.
            assert "a=setup:passive" in answer
            location = headers["Location"]
            assert location.startswith(f"/whip/{room}/") and len(location.split("/")[-1]) >= 32
            # A viewer: a receive-only offer to WHEP, no token needed.
            watch = await publish_from_aiortc(f"{step14.url}/whep/{room}", direction="recvonly")
            w_status, w_headers, w_answer, viewer = watch
            assert w_status == 201, w_answer
            assert w_headers["Location"].startswith(f"/whep/{room}/")
            assert w_headers["Location"].split("/")[-1] != location.split("/")[-1]
            assert "a=sendonly" in w_answer
            # Only the holder of the publisher's URL, with the token, ends the broadcast.
            session = f"{step14.url}{location}"
            assert http(session, "DELETE")[0] == 401
            guess = f"{step14.url}/whip/{room}/{'x' * 32}"
            assert http(guess, "DELETE", headers=bearer())[0] == 404
            assert http(f"{step14.url}/whep/{room}/{'x' * 32}", "DELETE")[0] == 404
            assert http(session, headers=bearer())[2].strip() == '{"viewers":1}'
            assert http(session, "DELETE", headers=bearer())[0] == 200
            assert http(session, "DELETE", headers=bearer())[0] == 404  # ended already
            viewer_url = f"{step14.url}{w_headers['Location']}"
            assert http(viewer_url, "DELETE")[0] == 200
            await viewer.close()
        finally:
            await pc.close()

    run(scenario())


def bearer(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def test_a_second_publisher_on_a_live_stream_gets_409(step14, room):
    async def scenario():
        first = await publish_from_aiortc(f"{step14.url}/whip/{room}")
        second = await publish_from_aiortc(f"{step14.url}/whip/{room}")
        try:
            assert first[0] == 201, first[2]
            assert second[0] == 409
            assert second[2].strip() == f"stream {room} is live already: one publisher at a time"
            assert http(f"{step14.url}{first[1]['Location']}", "DELETE", headers=bearer())[0] == 200
        finally:
            await first[3].close()
            await second[3].close()

    run(scenario())


def test_bad_requests_get_their_status_and_a_sentence(step14, room):
    url = f"{step14.url}/whip/{room}"
    offer = run(offer_sdp())
    status, headers, text = post_offer(url, offer, token=None)
    assert (status, headers["WWW-Authenticate"]) == (401, "Bearer")
    assert "Authorization: Bearer <token>" in text
    assert post_offer(url, offer, token="wrong")[0] == 401
    assert post_offer(url, "hello", content_type="application/sdp")[:3:2] == (
        400,
        "the body is not an SDP offer (v=0 ... with m= lines)\n",
    )
    no_ice = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    status, _, text = post_offer(url, no_ice + "a=rtpmap:96 VP8/90000\r\n")
    assert status == 400 and text.startswith("the offer could not be used"), text
    assert post_offer(url, offer, content_type="text/plain")[0] == 415
    assert post_offer(f"{step14.url}/whep/{room}", "hello")[0] == 400
    h264 = run(offer_sdp(codec="H264"))
    status, _, text = post_offer(url, h264)
    assert status == 406
    assert text.strip() == (
        "This server forwards VP8 video and Opus audio, as it receives them; "
        "the offer has no VP8 for its video."
    )
    two_videos = run(offer_sdp(videos=2))
    assert post_offer(url, two_videos)[:3:2] == (
        400,
        "publish at most one video and one audio track\n",
    )
    # None of those changed anything: the stream is still free to publish on.
    assert run(offer_and_delete(url)) == (201, 200)


async def offer_sdp(codec=None, videos=1):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    video, *_ = [pc.addTransceiver("video", direction="sendonly") for _ in range(videos)]
    pc.addTransceiver("audio", direction="sendonly")
    if codec:
        codecs = RTCRtpSender.getCapabilities("video").codecs
        video.setCodecPreferences([c for c in codecs if c.mimeType == f"video/{codec}"])
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def offer_and_delete(url):
    status, headers, _, pc = await publish_from_aiortc(url)
    try:
        deleted = http(url.rsplit("/whip/", 1)[0] + headers["Location"], "DELETE", headers=bearer())
        return status, deleted[0]
    finally:
        await pc.close()


def test_options_answers_cors_for_pages_of_other_origins(step14, room):
    for path, methods in ((f"/whip/{room}", "POST"), (f"/whep/{room}", "POST")):
        status, headers, _ = http(step14.url + path, "OPTIONS")
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert methods in headers["Access-Control-Allow-Methods"]
        assert "Authorization" in headers["Access-Control-Allow-Headers"]
        assert headers["Accept-Post"] == "application/sdp"
    status, headers, _ = post_offer(f"{step14.url}/whip/{room}", "hello")
    assert headers["Access-Control-Expose-Headers"] == "Location, Link"


def test_the_ice_servers_are_given_in_link_headers(start_server, room):
    server = start_server(14, PUBLISH_TOKEN=TOKEN, STUN_URLS="stun:127.0.0.1:3478")

    async def scenario():
        status, headers, text, pc = await publish_from_aiortc(f"{server.url}/whip/{room}")
        try:
            assert status == 201, text
            assert headers.get_all("Link") == ['<stun:127.0.0.1:3478>; rel="ice-server"']
            http(f"{server.url}{headers['Location']}", "DELETE", headers=bearer())
        finally:
            await pc.close()

    run(scenario())


def test_make_run_prints_the_token_and_both_urls(step14, start_server):
    printed = step14.log_path.read_text()
    assert f"Publish: {step14.url}/#token={TOKEN}" in printed
    assert f"Watch:   {step14.url}/watch.html?stream=live" in printed
    assert f"{step14.url}/whip/live  with the bearer token {TOKEN}" in printed
    assert "the Publish link below fills in the token" in printed
    assert f"WHEP endpoint (any WHEP player): {step14.url}/whep/live" in printed
    # Without PUBLISH_TOKEN, a token of its own, made at start: unguessable, and it works.
    other = start_server(14)
    token = other.log_path.read_text().split("#token=")[1].split()[0]
    assert len(token) >= 16
    url = f"{other.url}/whip/stream"
    assert post_offer(url, "hello", token=token)[0] == 400  # past the token: not an offer
    assert post_offer(url, "hello", token=TOKEN)[0] == 401
