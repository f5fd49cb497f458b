"""Step 6: the server is a WebRTC peer (aiortc). Each browser holds one RTCPeerConnection, to the
server, which passes the chat and everyone's video and sound on to the others.

The browser tests use at most three pages each (fake camera and microphone). The `offer` event's
errors are checked without a browser, with a python-socketio client and offers made by aiortc.
"""

import asyncio
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
from playwright.sync_api import expect

from step6_server_peer import server as step6_server
from tests.conftest import wait_until
from tests.signaling_client import Member

HOSTILE = "<img src=x onerror=pwned=1>"

# A camera of one's own: getUserMedia() gives a canvas of `size` painted `color` (and the fake
# microphone), so that a receiver can tell whose picture a tile shows. Sizes differ in shape, which
# survives the sender scaling its picture down on a busy machine.
OWN_CAMERA = """
(([width, height, color]) => {
  const getUserMedia = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = async function (constraints) {
    const canvas = Object.assign(document.createElement('canvas'), {width, height});
    const context = canvas.getContext('2d');
    setInterval(() => {
      context.fillStyle = color;
      context.fillRect(0, 0, width, height);
    }, 66);
    const stream = canvas.captureStream(15);
    if (constraints.audio) {
      const sound = await getUserMedia.call(this, {audio: constraints.audio});
      stream.addTrack(sound.getAudioTracks()[0]);
    }
    return stream;
  };
})(%s);
"""
CAMERAS = {
    "Ann": (320, 180, "rgb(220, 40, 40)"),
    "Bob": (240, 240, "rgb(40, 200, 60)"),
    "Cat": (160, 240, "rgb(40, 60, 220)"),
}
# The picture in `name`'s tile: its shape, and the colour at its centre.
TILE_PICTURE = """
(name) => {
  const video = [...document.querySelectorAll('.remote-tile')]
    .find((tile) => tile.dataset.peerName === name)?.querySelector('video');
  if (!video?.videoWidth) return null;
  const canvas = Object.assign(document.createElement('canvas'), {width: 1, height: 1});
  const context = canvas.getContext('2d');
  const [x, y] = [video.videoWidth / 2, video.videoHeight / 2];
  context.drawImage(video, x, y, 1, 1, 0, 0, 1, 1);
  const rgb = [...context.getImageData(0, 0, 1, 1).data.slice(0, 3)];
  return {shape: video.videoWidth / video.videoHeight, rgb};
}
"""


@pytest.fixture
def step6(start_server):
    return start_server(6)


def open_page(new_page, server, room, name, in_browser=None, init_script=None):
    page = new_page(f"{server.url}/?room={room}", in_browser=in_browser, init_script=init_script)
    expect(page.locator("#signaling-state")).to_have_text("connected")
    page.fill("#name", name)
    page.click("#join")
    return page


def expect_one_connection(page, people):
    """The page shows, and really holds, one connection (to the server), with the chat open."""
    expect(page.locator("#server-state")).to_have_text("connected")
    expect(page.locator("#connection-count")).to_have_text("1")
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator(".remote-tile")).to_have_count(people - 1)
    assert page.evaluate("openPeerConnections().length") == 1


def chat(page, text):
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#message", text)
    page.click("#send")


def expect_video_from(page, name):
    """`name`'s tile shows real pictures: a width, and frames decoded that keep coming."""
    page.wait_for_function(
        """name => {
          const tile = [...document.querySelectorAll('.remote-tile')]
            .find((t) => t.dataset.peerName === name);
          return tile?.querySelector('video').videoWidth > 0;
        }""",
        arg=name,
    )
    before = page.evaluate("name => framesDecodedFrom(name)", name)
    wait_until(
        page,
        "async ([name, before]) => (await framesDecodedFrom(name)) >= before + 5",
        [name, before],
    )


def expect_sound_from(page, name):
    """Sound packets from `name` keep arriving at the page (through the server)."""
    before = page.evaluate("name => audioPacketsFrom(name)", name)
    wait_until(
        page,
        "async ([name, before]) => (await audioPacketsFrom(name)) >= before + 5",
        [name, before],
    )


def open_with_own_camera(new_page, server, room, name):
    camera = json.dumps(list(CAMERAS[name]))
    return open_page(new_page, server, room, name, init_script=OWN_CAMERA % camera)


def expect_picture_of(page, name):
    """`name`'s tile shows `name`'s own camera: its shape, and its colour (by the channel that
    stands out: video's colour conversions shift the exact values)."""
    width, height, color = CAMERAS[name]
    page.wait_for_function(f"({TILE_PICTURE})({json.dumps(name)}) !== null")
    picture = page.evaluate(TILE_PICTURE, name)
    assert abs(picture["shape"] - width / height) < 0.05, (name, picture)
    assert dominant(picture["rgb"]) == dominant(color[4:-1].split(",")), (name, picture)


def dominant(rgb):
    """The index of the channel at least 80 above the others, or None."""
    values = [int(value) for value in rgb]
    top = max(range(3), key=values.__getitem__)
    return top if all(values[top] - v >= 80 for i, v in enumerate(values) if i != top) else None


def server_stats(page):
    return page.evaluate("fetch('/server-peer/stats').then((response) => response.json())")


def wait_for_server(page, connections, tasks=None):
    """Waits until the server peer holds `connections` (and, if given, runs `tasks`)."""
    wait_until(
        page,
        """async ([connections, tasks]) => {
          const stats = await (await fetch('/server-peer/stats')).json();
          return stats.peerConnections === connections && (tasks === null || stats.tasks === tasks);
        }""",
        [connections, tasks],
    )


@pytest.mark.browser
def test_three_users_hold_one_connection_each_and_see_hear_and_chat(step6, room, new_page):
    users = {name: open_page(new_page, step6, room, name) for name in ("Ann", "Bob", "Cat")}
    for page in users.values():
        expect_one_connection(page, 3)
        expect(page.locator("#summary")).to_contain_text(
            "3 in the room: 1 connection per person, to the server"
        )
        expect(page.locator("#summary")).to_contain_text("A mesh would need 2 per person")
    assert server_stats(users["Ann"])["peerConnections"] >= 3  # others' tests may share it

    for sender, page in users.items():
        chat(page, f"hello from {sender}")
        for receiver, other in users.items():
            if receiver != sender:
                line = other.locator("#log li.received", has_text=f"hello from {sender}")
                expect(line).to_have_count(1)
    for user, page in users.items():
        others = [name for name in users if name != user]
        expect(page.locator("#log li.received")).to_have_text(
            [f"{name}: hello from {name}" for name in others]
        )
        expect(page.locator("#log li.sent")).to_have_text([f"You: hello from {user}"])

    for user, page in users.items():
        for other in users:
            if other != user:
                expect_video_from(page, other)
        expect(page.locator("#video-count")).to_have_text("2")
        # Still one connection: the two videos came as slots of it, not as new connections.
        assert page.evaluate("openPeerConnections().length") == 1
        # The stats panel shows it too: one table, one video going up.
        expect(page.locator("#stats table.stats")).to_have_count(1)
        expect(page.locator("#stats tr[data-stat=video-out]")).to_have_count(1)


@pytest.mark.browser
def test_each_tile_shows_that_members_own_camera(step6, room, new_page):
    users = {name: open_with_own_camera(new_page, step6, room, name) for name in CAMERAS}
    for user, page in users.items():
        expect_one_connection(page, 3)
        for other in users:
            if other != user:
                expect_video_from(page, other)
                expect_picture_of(page, other)


# Join to every picture: the slots ask each member's browser for a keyframe at once (PLI), so
# the newcomer's wait is the connection's set-up plus one frame, not the next periodic keyframe.
LATE_JOINER_SEES_ALL = 2000  # ms


@pytest.mark.browser
def test_a_late_joiner_sees_everyone_within_two_seconds(step6, room, new_page):
    users = {name: open_with_own_camera(new_page, step6, room, name) for name in ("Ann", "Bob")}
    for user, page in users.items():
        expect_video_from(page, "Bob" if user == "Ann" else "Ann")
    camera = OWN_CAMERA % json.dumps(CAMERAS["Cat"])
    cat = new_page(f"{step6.url}/?room={room}", init_script=camera)
    expect(cat.locator("#signaling-state")).to_have_text("connected")
    cat.fill("#name", "Cat")
    # The camera is asked for at the click, as in the page: the clock starts at the click.
    clicked = cat.evaluate("performance.now()")
    cat.click("#join")
    cat.wait_for_function(
        f"(names) => names.every((name) => ({TILE_PICTURE})(name) !== null)",
        arg=list(users),
        timeout=10_000,
    )
    waited = cat.evaluate("performance.now()") - clicked
    assert waited <= LATE_JOINER_SEES_ALL, f"Cat saw everyone {waited:.0f} ms after joining"
    for other in users:
        expect_picture_of(cat, other)
        expect_video_from(cat, other)
    for page in users.values():
        expect_picture_of(page, "Cat")


@pytest.mark.browser
def test_a_camera_turned_on_after_joining_reaches_the_others_with_no_new_offer(
    step6, room, new_page
):
    ann = open_page(new_page, step6, room, "Ann")
    bob = new_page(f"{step6.url}/?room={room}")
    expect(bob.locator("#signaling-state")).to_have_text("connected")
    bob.fill("#name", "Bob")
    bob.set_checked("#camera-on-join", False)
    bob.click("#join")
    for page in (ann, bob):
        expect_one_connection(page, 2)
    bob_on_ann = ann.locator('.remote-tile[data-peer-name="Bob"] .tile-status')
    expect(bob_on_ann).to_have_text("camera off")
    offer = bob.evaluate("openPeerConnections()[0].localDescription.sdp")
    bob.click("#camera-toggle")
    expect(bob.locator("#camera-toggle")).to_have_text("Turn camera off")
    # Bob's camera reaches Ann through the server, in the transceiver his one offer reserved.
    expect_video_from(ann, "Bob")
    expect(bob_on_ann).to_have_text("")
    assert bob.evaluate("openPeerConnections()[0].localDescription.sdp") == offer
    assert bob.evaluate("openPeerConnections().length") == 1


@pytest.mark.browser
def test_leaving_closes_the_server_side_and_frees_the_slot_for_the_next(
    start_server, room, new_page
):
    # A room of two on a server of its own: every connection and task on it is this test's.
    server = start_server(6, MAX_ROOM_SIZE=2)
    baseline = stats(server)
    assert baseline["peerConnections"] == 0
    ann = open_page(new_page, server, room, "Ann")
    expect_one_connection(ann, 1)
    bob = open_page(new_page, server, room, "Bob")
    expect_one_connection(bob, 2)
    expect_video_from(ann, "Bob")
    expect_video_from(bob, "Ann")

    cat = open_page(new_page, server, room, "Cat")
    expect(cat.locator("#join-error")).to_contain_text("The room is full")
    assert cat.evaluate("openPeerConnections().length") == 0
    assert server_stats(ann)["peerConnections"] == 2

    bob.click("#leave")
    expect(bob.locator("#connection-count")).to_have_text("0")
    assert bob.evaluate("openPeerConnections().length") == 0
    expect(ann.locator("#log")).to_contain_text("Bob left.")
    expect(ann.locator("#video-count")).to_have_text("0")
    # Bob's slot is empty now, and the stats panel no longer shows a video coming in.
    expect(ann.locator("#stats tr[data-stat=video-in]")).to_have_count(0)
    wait_for_server(ann, 1)

    # Cat now gets in, and Ann's one slot shows Cat where it showed Bob.
    cat.click("#join")
    expect_one_connection(cat, 2)
    expect_video_from(ann, "Cat")
    expect_video_from(cat, "Ann")
    assert ann.evaluate("openPeerConnections().length") == 1

    cat.context.close()  # closing the tab is a leave too
    expect(ann.locator("#log")).to_contain_text("Cat left.")
    wait_for_server(ann, 1)
    ann.click("#leave")
    wait_for_server(bob, 0, tasks=baseline["tasks"])


@pytest.mark.browser
def test_the_server_stamps_names_and_hostile_text_stays_text(step6, room, new_page):
    ann = open_page(new_page, step6, room, "Ann")
    mallory = open_page(new_page, step6, room, HOSTILE)
    expect_one_connection(ann, 2)
    expect_one_connection(mallory, 2)

    chat(mallory, HOSTILE)
    expect(ann.locator("#log li.received")).to_have_text([f"{HOSTILE}: {HOSTILE}"])
    expect(ann.locator(".remote-tile .tile-name")).to_have_text([HOSTILE])

    # A message that claims to come from Ann still shows under Mallory's name, and junk is
    # refused back to its sender only.
    mallory.evaluate(
        """() => {
          const channel = createdChannels.find((c) => c.readyState === 'open');
          channel.send(JSON.stringify({type: 'chat', text: 'I am Ann', from: {name: 'Ann'}}));
          channel.send('not json');
          channel.send(JSON.stringify({type: 'chat', text: 'x'.repeat(2001)}));
          channel.send(JSON.stringify({type: 'chat', text: 'last one'}));
        }"""
    )
    expect(ann.locator("#log li.received")).to_have_text(
        [f"{HOSTILE}: {HOSTILE}", f"{HOSTILE}: I am Ann", f"{HOSTILE}: last one"]
    )
    expect(mallory.locator("#log li.error", has_text="The server says")).to_have_count(2)
    expect(ann.locator("#log li.error")).to_have_count(0)
    for page in (ann, mallory):
        assert page.locator("img").count() == 0
        assert page.evaluate("typeof window.pwned") == "undefined"


def aiortc_offer(with_channel=True, video_codec=None):
    """A real SDP offer, made by aiortc, with or without a data channel, with every video codec
    aiortc has or only `video_codec` ("video/H264")."""

    async def make():
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if with_channel:
            pc.createDataChannel("chat")
        video = pc.addTransceiver("video", direction="recvonly")
        if video_codec:
            codecs = RTCRtpSender.getCapabilities("video").codecs
            video.setCodecPreferences([c for c in codecs if c.mimeType == video_codec])
        await pc.setLocalDescription(await pc.createOffer())
        description = {"type": "offer", "sdp": pc.localDescription.sdp}
        await pc.close()
        return description

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, make()).result()


def error_code(ack):
    assert ack["ok"] is False, ack
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]
    return ack["error"]["code"]


def stats(server):
    with urllib.request.urlopen(server.url + "/server-peer/stats", timeout=5) as response:
        return json.load(response)


def test_offers_are_checked_and_answered_in_the_contract_style(start_server, room):
    server = start_server(6, MAX_ROOM_SIZE=3)
    member = Member(server.url)
    try:
        assert member.call("slots") == {"ok": True, "slots": 2}
        assert error_code(member.call("offer", {"description": aiortc_offer()})) == "not-joined"
        member.join(room, "Ann")
        bad_payloads = [
            (),
            ({"description": "v=0"},),
            ({"description": {"type": "answer", "sdp": "v=0\r\n"}},),
            ({"description": {"type": "offer", "sdp": ""}},),
            ({"description": {"type": "offer", "sdp": "not sdp at all"}},),
            ({"description": aiortc_offer(with_channel=False)},),
            ({"description": aiortc_offer(video_codec="video/H264")},),  # VP8 only is forwarded
            ({"description": aiortc_offer()}, {"x": 1}),
        ]
        for args in bad_payloads:
            assert error_code(member.emit_raw("offer", *args)) == "invalid", args
        huge = {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 30000}
        assert error_code(member.call("offer", {"description": huge})) == "too-large"
        assert stats(server)["peerConnections"] == 0

        ack = member.call("offer", {"description": aiortc_offer()})
        assert ack["ok"] is True, ack
        assert ack["description"]["type"] == "answer"
        assert "a=candidate:" in ack["description"]["sdp"]  # no trickle: they are all in it
        assert stats(server)["peerConnections"] == 1
        second = member.call("offer", {"description": aiortc_offer()})
        assert error_code(second) == "already-connected"

        # `leave` is acknowledged once the server has closed its side.
        assert member.call("leave") == {"ok": True}
        assert stats(server)["peerConnections"] == 0
    finally:
        member.close()


def test_the_room_cap_and_the_slots_match(monkeypatch):
    monkeypatch.delenv("MAX_ROOM_SIZE", raising=False)
    assert step6_server.ROOM_CAPACITY == 10
    app, socketio = step6_server.create()
    assert app.extensions["rooms"].capacity == 10
    client = socketio.test_client(app)
    assert client.emit("slots", callback=True) == {"ok": True, "slots": 9}
    assert "/server-peer/stats" in [rule.rule for rule in app.url_map.iter_rules()]


@pytest.mark.browser
def test_a_server_restart_mid_call_reconnects_everyone_without_ghosts(own_server, room, new_page):
    server = own_server(6)
    ann = open_page(new_page, server, room, "Ann")
    bob = open_page(new_page, server, room, "Bob")
    for page, other in ((ann, "Bob"), (bob, "Ann")):
        expect_one_connection(page, 2)
        expect_video_from(page, other)

    server.stop()
    for page in (ann, bob):
        expect(page.locator("#signaling-state")).to_have_text("reconnecting")
    server.start()
    # Both pages rejoin and connect to the new server peer by themselves: no click, no reload.
    for page, other in ((ann, "Bob"), (bob, "Ann")):
        expect(page.locator("#log")).to_contain_text("rejoined the room", timeout=20_000)
        expect_one_connection(page, 2)
        expect_video_from(page, other)
        expect(page.locator("#join")).to_be_disabled()
        expect(page.locator("#leave")).to_be_enabled()
    wait_for_server(ann, 2)
    chat(bob, "back after the restart")
    expect(ann.locator("#log li.received").last).to_have_text("Bob: back after the restart")

    # A newcomer sees exactly the two who are really there, and their video.
    cat = open_page(new_page, server, room, "Cat")
    expect_one_connection(cat, 3)
    names = cat.locator(".remote-tile .tile-name")
    expect(names).to_have_count(2)
    assert sorted(names.all_inner_texts()) == ["Ann", "Bob"]  # in the order they rejoined
    for other in ("Ann", "Bob"):
        expect_video_from(cat, other)
    expect_video_from(ann, "Cat")


@pytest.mark.browser
def test_overlong_and_blank_messages_are_refused_in_the_page_as_in_the_other_steps(
    step6, room, new_page
):
    ann = open_page(new_page, step6, room, "Ann")
    bob = open_page(new_page, step6, room, "Bob")
    expect_one_connection(ann, 2)
    expect_one_connection(bob, 2)
    chat(ann, "x" * 2001)
    expect(ann.locator("#log li.error")).to_contain_text("limited to 2000 characters")
    expect(ann.locator("#message")).to_have_value("x" * 2001)  # kept whole, to shorten
    chat(ann, "   ")
    chat(ann, "y" * 2000)
    expect(bob.locator("#log li.received")).to_have_text(["Ann: " + "y" * 2000])
    expect(ann.locator("#log li.sent")).to_have_text(["You: " + "y" * 2000])


# A browser that prefers another video codec (Safari puts H.264 first): VP8 goes last in the
# preferences of every video transceiver the page adds.
VP8_LAST = """
(() => {
  const addTransceiver = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function (...args) {
    const transceiver = addTransceiver.apply(this, args);
    if (transceiver.receiver.track.kind === 'video') {
      const {codecs} = RTCRtpReceiver.getCapabilities('video');
      const vp8 = (codec) => codec.mimeType === 'video/VP8';
      transceiver.setCodecPreferences([...codecs.filter((c) => !vp8(c)), ...codecs.filter(vp8)]);
    }
    return transceiver;
  };
})();
"""
FIRST_OFFERED_VIDEO_CODEC = """() => {
  const lines = openPeerConnections()[0].localDescription.sdp.split('\\r\\n');
  const first = lines.find((line) => line.startsWith('m=video')).split(' ')[3];
  return lines.find((line) => line.startsWith(`a=rtpmap:${first} `)).split(' ')[1].split('/')[0];
}"""
OUTGOING_VIDEO_CODEC = """async () => {
  const stats = await openPeerConnections()[0].getStats();
  const out = [...stats.values()].find((r) => r.type === 'outbound-rtp' && r.kind === 'video');
  return out && stats.get(out.codecId)?.mimeType;
}"""


@pytest.mark.browser
def test_a_browser_that_prefers_another_codec_still_sends_vp8(step6, room, new_page):
    ann = open_page(new_page, step6, room, "Ann", init_script=VP8_LAST)
    bob = open_page(new_page, step6, room, "Bob")
    expect_video_from(bob, "Ann")
    # Ann's offer put another codec first, and she sends VP8 all the same.
    assert ann.evaluate(FIRST_OFFERED_VIDEO_CODEC) != "VP8"
    assert ann.evaluate(OUTGOING_VIDEO_CODEC) == "video/VP8"


@pytest.mark.browser
def test_across_browsers_both_see_and_hear_each_other_through_the_server(
    step6, room, new_page, other_browser
):
    ann = open_page(new_page, step6, room, "Ann")
    bob = open_page(new_page, step6, room, "Bob", in_browser=other_browser)
    for page, other in ((ann, "Bob"), (bob, "Ann")):
        expect_one_connection(page, 2)
        expect_video_from(page, other)
        expect_sound_from(page, other)
    chat(bob, "hello across")
    expect(ann.locator("#log")).to_contain_text("Bob: hello across")
    chat(ann, "and back")
    expect(bob.locator("#log")).to_contain_text("Ann: and back")
