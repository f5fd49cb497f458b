"""Step 13: the server combines. Each page holds one connection, to the server, and receives ONE
video (the room's picture, composed by the server) and ONE sound (everyone else's voices).

Each page's camera is a canvas of its own colour and its microphone a tone of its own pitch, so
that a test can find every member in the picture the others receive (in the tile step13's
layout() gives them) and hear who is in a page's sound.
"""

import json

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from step13_mixing.mixer import HEIGHT, WATERMARK, WIDTH, layout
from tests.conftest import wait_until
from tests.signaling_client import Member

# getUserMedia() gives a canvas painted `color` and, in Chromium, an oscillator at `pitch` Hz (a
# quarter of full scale, so that three together do not clip). Headless Firefox runs no
# AudioContext here (it stays "suspended", even after a click), so a Firefox page keeps the fake
# microphone, a tone of FIREFOX_PITCH, and its tests measure sound by its energy (getStats).
OWN_MEDIA = """
(([color, pitch]) => {
  const getUserMedia = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = async function (constraints) {
    const stream = new MediaStream();
    if (constraints.audio && !pitch) {
      const sound = await getUserMedia.call(this, {audio: true});
      stream.addTrack(sound.getAudioTracks()[0]);
    }
    if (constraints.video) {
      const canvas = Object.assign(document.createElement('canvas'), {width: 320, height: 240});
      const context = canvas.getContext('2d');
      setInterval(() => {
        context.fillStyle = color;
        context.fillRect(0, 0, 320, 240);
      }, 66);
      stream.addTrack(canvas.captureStream(15).getVideoTracks()[0]);
    }
    if (constraints.audio && pitch) {
      const audio = new AudioContext();
      const tone = new OscillatorNode(audio, {frequency: pitch});
      const quieter = new GainNode(audio, {gain: 0.25});
      const out = audio.createMediaStreamDestination();
      tone.connect(quieter).connect(out);
      tone.start();
      await audio.resume();
      stream.addTrack(out.stream.getAudioTracks()[0]);
    }
    return stream;
  };
})(%s);
"""
MEMBERS = {
    "Ann": ("rgb(220, 40, 40)", 440),
    "Bob": ("rgb(40, 200, 60)", 700),
    "Cat": ("rgb(40, 60, 220)", 1100),
}
FIREFOX_PITCH = 1000  # Hz: Firefox's fake microphone (media.navigator.audio.fake_frequency)
CHANNEL = {"Ann": 0, "Bob": 1, "Cat": 2}  # the channel that stands out in each one's colour

# The colours at points of the room's picture, given as fractions of its width and height.
COLOURS_AT = """
(points) => {
  const video = document.querySelector('#room-video');
  if (!video.videoWidth) return null;
  const [width, height] = [video.videoWidth, video.videoHeight];
  const canvas = Object.assign(document.createElement('canvas'), {width, height});
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0);
  const at = ([x, y]) => context.getImageData(Math.floor(x * width), Math.floor(y * height), 1, 1);
  return points.map((point) => [...at(point).data.slice(0, 3)]);
}
"""

# The loudest level (dB) near each pitch in the page's received sound, the median of ten readings
# over a second (one reading may fall in a gap or a click of a loaded machine): `heard` for each
# pitch of `present`, `left` for each of `absent`.
LEVELS = """
async ([present, absent]) => {
  const track = document.querySelector('#room-video').srcObject?.getAudioTracks()[0];
  if (!track) return null;
  if (!window.listening) {
    const audio = new AudioContext();
    const analyser = new AnalyserNode(audio, {fftSize: 8192, smoothingTimeConstant: 0});
    audio.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    await audio.resume();
    window.listening = {audio, analyser};
  }
  const {audio, analyser} = window.listening;
  const spectrum = new Float32Array(analyser.frequencyBinCount);
  const level = (pitch) => {
    const bin = Math.round(pitch / (audio.sampleRate / analyser.fftSize));
    return Math.max(...spectrum.slice(bin - 2, bin + 3));
  };
  const readings = present.map(() => []), absentReadings = absent.map(() => []);
  for (let reading = 0; reading < 10; reading++) {
    await new Promise((done) => setTimeout(done, 100));
    analyser.getFloatFrequencyData(spectrum);
    present.forEach((pitch, i) => readings[i].push(level(pitch)));
    absent.forEach((pitch, i) => absentReadings[i].push(level(pitch)));
  }
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return {heard: readings.map(median), left: absentReadings.map(median)};
}
"""
# ms for the room's tracks to be in #room-video once the connection is up: ontrack fires when the
# answer is set, before the connection comes up, so this is a margin, not a wait for the network.
TRACKS_WITHIN = 3_000
# "<video tracks> <audio tracks>" in the page's #room-video.
ROOM_MEDIA = """() => {
  const stream = document.querySelector('#room-video').srcObject;
  return `${stream?.getVideoTracks().length ?? 0} ${stream?.getAudioTracks().length ?? 0}`;
}"""
HEARD = -70  # dB: Chromium's quarter-scale tones read about -20 here, Firefox's fake one -55
# dB the own pitch must be under the quietest other: unmixed, it would be as loud as the others;
# left out, what remains there is the codec's noise around the others' tones (25-40 dB under).
LEFT_OUT = 20
# The page's sound so far, from getStats(): "totalAudioEnergy" received, or "packetsSent".
SOUND = """async (field) => {
  const type = field === 'packetsSent' ? 'outbound-rtp' : 'inbound-rtp';
  let total = 0;
  (await openPeerConnections()[0].getStats()).forEach((report) => {
    if (report.type === type && report.kind === 'audio') total += report[field] ?? 0;
  });
  return total;
}"""


@pytest.fixture
def step13(start_server):
    return start_server(13)


def open_page(new_page, browser, server, room, name):
    """`name`'s page in `browser`, joined; its camera their colour, its microphone their pitch
    (in Chromium)."""
    color, pitch = MEMBERS[name]
    pitch = pitch if browser.browser_type.name == "chromium" else None
    init_script = OWN_MEDIA % json.dumps([color, pitch])
    page = new_page(f"{server.url}/?room={room}", in_browser=browser, init_script=init_script)
    expect(page.locator("#signaling-state")).to_have_text("connected")
    page.fill("#name", name)
    page.click("#join")
    return page


def expect_one_picture_and_one_sound(page):
    """One connection, to the server, which brings exactly one video and one sound, playing."""
    expect(page.locator("#server-state")).to_have_text("connected")
    expect(page.locator("#send")).to_be_enabled()
    assert page.evaluate("openPeerConnections().length") == 1
    try:
        page.wait_for_function(f"() => ({ROOM_MEDIA})() === '1 1'", timeout=TRACKS_WITHIN)
    except PlaywrightTimeoutError:
        video, audio = page.evaluate(ROOM_MEDIA).split()
        pytest.fail(
            "#room-video should play the one video and the one audio track the server sends as "
            f"soon as the connection is up; it has {video} video and {audio} audio track(s)"
        )
    received = (
        "openPeerConnections()[0].getReceivers().filter((r) => r.track.readyState === 'live')"
    )
    kinds = page.evaluate(f"{received}.map((r) => r.track.kind).sort()")
    assert kinds == ["audio", "video"]
    decoded = """async () => {
      let frames = 0;
      (await openPeerConnections()[0].getStats()).forEach((report) => {
        if (report.type === 'inbound-rtp' && report.kind === 'video') {
          frames += report.framesDecoded;
        }
      });
      return frames;
    }"""
    before = page.evaluate(decoded)
    wait_until(page, f"async (before) => (await ({decoded})()) >= before + 5", before)


def tile_centres(count):
    return [((x + w / 2) / WIDTH, (y + h / 3) / HEIGHT) for x, y, w, h in layout(count)]


def dominant(rgb):
    """The index of the channel at least 80 above the others, or None."""
    top = max(range(3), key=rgb.__getitem__)
    return top if all(rgb[top] - v >= 80 for i, v in enumerate(rgb) if i != top) else None


def expect_grid(page, names, absent=()):
    """The room's picture shows `names` in that order, each in the tile layout() gives them, in
    their own colour, and nowhere the colour of anyone `absent`; and the server's watermark in
    the top left corner."""
    points = [*tile_centres(len(names)), (10 / WIDTH, 22 / HEIGHT)]
    everywhere = [(x / 4 + 1 / 8, y / 4 + 1 / 8) for x in range(4) for y in range(4)]
    wanted = [CHANNEL[name] for name in names]
    unwanted = [CHANNEL[name] for name in absent]
    page.wait_for_function(
        f"""([points, everywhere, wanted, unwanted]) => {{
          const top = (rgb) => {{
            const i = [0, 1, 2].reduce((a, b) => (rgb[b] > rgb[a] ? b : a));
            return rgb.every((v, j) => j === i || rgb[i] - v >= 80) ? i : null;
          }};
          const tiles = ({COLOURS_AT})(points)?.slice(0, -1).map(top);
          const all = ({COLOURS_AT})(everywhere)?.map(top);
          return tiles?.every((channel, i) => channel === wanted[i]) &&
            !all.some((channel) => unwanted.includes(channel));
        }}""",
        arg=[points, everywhere, wanted, unwanted],
    )
    colours = page.evaluate(COLOURS_AT, points)
    assert [dominant(rgb) for rgb in colours[:-1]] == wanted, (names, colours)
    watermark = colours[-1]
    assert all(abs(a - b) < 50 for a, b in zip(watermark, WATERMARK, strict=True)), watermark


def pitch(name, browser):
    return MEMBERS[name][1] if browser.browser_type.name == "chromium" else FIREFOX_PITCH


def expect_sound(page):
    """The page's one sound brings energy: someone is heard."""
    before = page.evaluate(SOUND, "totalAudioEnergy")
    wait_until(page, f"async (before) => (await ({SOUND})('totalAudioEnergy')) > before", before)


def expect_silence_while_sending(page):
    """Over a second of the page sending its sound (50 packets), the sound it receives brings
    no energy: alone in the room, the mix minus their own voice is silence."""
    before = page.evaluate(SOUND, "totalAudioEnergy")
    sent = page.evaluate(SOUND, "packetsSent")
    wait_until(page, f"async (sent) => (await ({SOUND})('packetsSent')) >= sent + 50", sent)
    assert page.evaluate(SOUND, "totalAudioEnergy") - before < 1e-4


def expect_to_hear(page, present, absent):
    """In Chromium, whose AudioContext runs here: the received sound has each pitch of `present`
    and not the pitch `absent` (the page's own), over a second."""
    wait_until(
        page,
        f"""async (present) => {{
          const levels = await ({LEVELS})([present, []]);
          return levels !== null && levels.heard.every((dB) => dB > {HEARD});
        }}""",
        present,
    )
    levels = page.evaluate(LEVELS, [present, [absent]])
    assert all(dB > HEARD for dB in levels["heard"]), (present, levels)
    assert levels["left"][0] < min(levels["heard"]) - LEFT_OUT, (absent, levels)


def chat(page, text):
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#message", text)
    page.click("#send")


@pytest.mark.browser
def test_everyone_receives_one_picture_with_each_member_in_their_tile(
    step13, room, new_page, browser
):
    users = {name: open_page(new_page, browser, step13, room, name) for name in MEMBERS}
    for page in users.values():
        expect_one_picture_and_one_sound(page)
        expect_grid(page, list(MEMBERS))
    chat(users["Ann"], "hello from Ann")
    for name in ("Bob", "Cat"):
        expect(users[name].locator("#log li.received")).to_have_text(["Ann: hello from Ann"])

    users["Cat"].click("#leave")
    for name in ("Ann", "Bob"):
        expect(users[name].locator("#log")).to_contain_text("Cat left.")
        expect_grid(users[name], ["Ann", "Bob"], absent=["Cat"])
        # Still one video and one sound, on the same connection: nothing was renegotiated.
        expect_one_picture_and_one_sound(users[name])


@pytest.mark.browser
def test_each_member_hears_the_others_and_not_themselves(step13, room, new_page, browser):
    ann = open_page(new_page, browser, step13, room, "Ann")
    expect_one_picture_and_one_sound(ann)
    expect_silence_while_sending(ann)
    users = {
        "Ann": ann,
        **{name: open_page(new_page, browser, step13, room, name) for name in ("Bob", "Cat")},
    }
    for name, page in users.items():
        expect_one_picture_and_one_sound(page)
        expect_sound(page)
        if browser.browser_type.name == "chromium":  # (Firefox: see OWN_MEDIA)
            others = [pitch(other, browser) for other in MEMBERS if other != name]
            expect_to_hear(page, others, absent=pitch(name, browser))


@pytest.mark.browser
def test_the_effect_switch_changes_the_picture_for_everyone(step13, room, new_page, browser):
    ann = open_page(new_page, browser, step13, room, "Ann")
    bob = open_page(new_page, browser, step13, room, "Bob")
    for page in (ann, bob):
        expect_one_picture_and_one_sound(page)
        expect_grid(page, ["Ann", "Bob"])
    ann.check("#edges")
    expect(ann.locator("#log")).to_contain_text("You turned edge detection on.")
    expect(bob.locator("#log")).to_contain_text("Ann turned edge detection on.")
    expect(bob.locator("#edges")).to_be_checked()
    # Edges of a flat colour are nothing: both tiles go dark, for everyone.
    for page in (ann, bob):
        page.wait_for_function(
            f"""(points) => ({COLOURS_AT})(points)?.every((rgb) => Math.max(...rgb) < 60)""",
            arg=tile_centres(2),
        )
    # A newcomer's box says what the room has.
    cat = open_page(new_page, browser, step13, room, "Cat")
    expect(cat.locator("#edges")).to_be_checked()
    cat.uncheck("#edges")
    expect(ann.locator("#log")).to_contain_text("Cat turned edge detection off.")
    expect(ann.locator("#edges")).not_to_be_checked()
    expect_grid(ann, list(MEMBERS))


@pytest.mark.browser
def test_a_full_room_is_refused_with_the_documented_error(start_server, room, new_page, browser):
    server = start_server(13, MAX_ROOM_SIZE=2)
    members = [Member(server.url) for _ in range(2)]
    try:
        for number, member in enumerate(members):
            assert member.join(room, f"Member{number}")["ok"]
        cat = open_page(new_page, browser, server, room, "Cat")
        expect(cat.locator("#join-error")).to_contain_text("The room is full")
        expect(cat.locator("#join-error")).to_contain_text("decodes every camera")
        assert cat.evaluate("openPeerConnections().length") == 0
    finally:
        for member in members:
            member.close()


@pytest.mark.browser
def test_across_browsers_both_see_and_hear_each_other_in_the_mix(
    step13, room, new_page, browser, other_browser
):
    ann = open_page(new_page, browser, step13, room, "Ann")
    bob = open_page(new_page, other_browser, step13, room, "Bob")
    pages = (
        (ann, browser, "Ann", other_browser, "Bob"),
        (bob, other_browser, "Bob", browser, "Ann"),
    )
    for page, in_browser, name, other_in, other in pages:
        expect_one_picture_and_one_sound(page)
        expect_grid(page, ["Ann", "Bob"])
        expect_sound(page)
        if in_browser.browser_type.name == "chromium":  # (Firefox: see OWN_MEDIA)
            expect_to_hear(page, [pitch(other, other_in)], absent=pitch(name, in_browser))
    chat(bob, "hello across")
    expect(ann.locator("#log")).to_contain_text("Bob: hello across")
