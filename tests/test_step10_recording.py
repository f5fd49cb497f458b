"""Step 10: the server peer records the room. Real browsers record through the real server; the
files they are offered are fetched by the test and decoded here with PyAV: the expected frame
size, at least the expected number of frames for the time recorded, and sound. A page made to
hold back its "I saw the notice" answer (a probe the test injects) is never recorded."""

import time
import urllib.error
import urllib.request
from pathlib import Path

import av
import pytest
from playwright.sync_api import expect

from tests.conftest import wait_until
from tests.test_step6_server_peer import expect_one_connection, expect_video_from, open_page

pytestmark = pytest.mark.browser
STEP = 10
FPS = 15  # the pages ask for at most 15 frames a second
# Slack for a loaded 2-core machine: a file holds at least this share of the frames and sound the
# time recorded would give at the full rate (docs/benchmarks.md has what it really holds).
FRAME_SHARE = 0.5
SOUND_SHARE = 0.7

# Holds back the page's answer to the recording notice: `releaseSeen()` sends it.
HOLD_SEEN = """
(() => {
  const held = [];
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    if (typeof data === 'string' && data.includes('"recording-seen"')) {
      held.push(() => send.call(this, data));
      return;
    }
    send.call(this, data);
  };
  window.releaseSeen = () => held.splice(0).forEach((go) => go());
})();
"""
CAMERA_SIZE = "localStream.getVideoTracks()[0].getSettings()"


@pytest.fixture(scope="module")
def step10(start_server, tmp_path_factory):
    return start_server(STEP, RECORDINGS_DIR=tmp_path_factory.mktemp("recordings"))


def in_call(new_page, server, room, names, **options):
    pages = [open_page(new_page, server, room, name, **options) for name in names]
    for page in pages:
        expect_one_connection(page, len(pages))
    for page, name in zip(pages, names, strict=True):
        for other in names:
            if other != name:
                expect_video_from(page, other)
    return pages


def keep_recording(watcher, watched, seconds=3):
    """Waits while a recording goes on: until `seconds` have passed by the page's clock and
    `watcher` has decoded that many seconds' worth of `watched`'s frames (video arrives in bursts
    at times, so frames alone are not a clock). Returns the seconds it waited."""
    start = time.monotonic()
    before = watcher.evaluate("name => framesDecodedFrom(name)", watched)
    wait_until(
        watcher,
        """async ([name, frames, until]) =>
          Date.now() >= until && (await framesDecodedFrom(name)) >= frames""",
        [watched, before + seconds * FPS, watcher.evaluate("Date.now()") + seconds * 1000],
        timeout=(seconds + 20) * 1000,
    )
    return time.monotonic() - start


def recorded_files(page, count):
    files = page.locator("#recordings li a")
    expect(files).to_have_count(count)
    return {link.text_content(): link.get_attribute("href") for link in files.all()}


def decode(server, href, tmp_path):
    """(frames, first frame's size, seconds of sound) in the file at `href`, decoded here."""
    path = tmp_path / href.rsplit("/", 1)[1]
    with urllib.request.urlopen(server.url + href, timeout=10) as response:
        assert response.headers["Content-Type"] == "video/webm"
        path.write_bytes(response.read())
    with av.open(str(path)) as container:
        frames = [(f.width, f.height) for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        sound = sum(f.samples / f.sample_rate for f in container.decode(audio=0))
    return len(frames), frames[0] if frames else None, sound


def expect_recording_of(server, href, seconds, size, tmp_path):
    frames, first_size, sound = decode(server, href, tmp_path)
    assert first_size == size
    # From the first keyframe after the member's page saw the notice: allow one second for that.
    expected = seconds - 1
    assert frames >= FRAME_SHARE * FPS * expected, (frames, seconds)
    assert sound >= SOUND_SHARE * expected, (sound, seconds)


def test_everyone_sees_the_notice_and_gets_one_decodable_file_per_member(
    step10, new_page, room, tmp_path
):
    ann, bob = in_call(new_page, step10, room, ["Ann", "Bob"])
    sizes = {name: page.evaluate(CAMERA_SIZE) for name, page in (("Ann", ann), ("Bob", bob))}
    # Anyone in the call may record: the button is there to press once the call is up.
    expect(ann.locator("#record")).to_be_enabled()
    ann.click("#record")
    expect(ann.locator("#recording-notice")).to_contain_text("You started recording this call")
    notice = bob.locator("#recording-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Ann started recording this call")
    expect(notice).to_contain_text("you included")
    expect(bob.locator("#record")).to_have_text("Stop recording")
    # Anyone may stop it: Bob does.
    seconds = keep_recording(bob, "Ann")
    bob.click("#record")
    for page, by in ((ann, "Bob"), (bob, "You")):
        expect(page.locator("#log")).to_contain_text(f"Recording stopped by {by}: 2 files.")
        expect(page.locator("#recording-notice")).to_be_hidden()
        expect(page.locator("#record")).to_have_text("Record")
    files = recorded_files(ann, 2)
    assert recorded_files(bob, 2) == files
    for name in ("Ann", "Bob"):
        (href,) = [href for text, href in files.items() if text.endswith(f"-{name}.webm")]
        size = (sizes[name]["width"], sizes[name]["height"])
        expect_recording_of(step10, href, seconds, size, tmp_path)


def test_a_member_who_has_not_seen_the_notice_is_not_recorded(step10, new_page, room, tmp_path):
    ann = open_page(new_page, step10, room, "Ann")
    bob = open_page(new_page, step10, room, "Bob", init_script=HOLD_SEEN)
    for page, other in ((ann, "Bob"), (bob, "Ann")):
        expect_one_connection(page, 2)
        expect_video_from(page, other)
    # Bob's page shows the notice but its answer is held back: the server must not record him,
    # however long the recording, while his video goes on reaching Ann.
    ann.click("#record")
    expect(bob.locator("#recording-notice")).to_contain_text("Ann started recording")
    seconds = keep_recording(ann, "Bob")
    ann.click("#record")
    for page in (ann, bob):
        expect(page.locator("#log")).to_contain_text("Recording stopped by")
        expect(page.locator("#log")).to_contain_text("Not recorded (never saw the notice): Bob.")
    files = recorded_files(ann, 1)
    (name,) = files
    assert name.endswith("-Ann.webm")
    size = ann.evaluate(CAMERA_SIZE)
    expect_recording_of(step10, files[name], seconds, (size["width"], size["height"]), tmp_path)
    # Nothing of Bob's is on the server either.
    folder = Path(step10.env["RECORDINGS_DIR"]) / files[name].split("/")[2]
    assert [path.name for path in folder.iterdir()] == [name]


def test_a_recording_of_nobody_leaves_no_folder(start_server, new_page, room, tmp_path):
    """Nobody answered the notice, so nobody was recorded: the server keeps no empty folder."""
    recordings = tmp_path / "recordings"
    server = start_server(STEP, RECORDINGS_DIR=recordings)
    ann, _ = in_call(new_page, server, room, ["Ann", "Bob"], init_script=HOLD_SEEN)
    ann.click("#record")
    expect(ann.locator("#record")).to_have_text("Stop recording")
    ann.click("#record")
    expect(ann.locator("#log")).to_contain_text("Not recorded (never saw the notice): Ann, Bob.")
    assert not recordings.exists() or list(recordings.iterdir()) == []


def test_a_member_who_joins_during_a_recording_is_told_first_then_recorded(
    step10, new_page, room, tmp_path
):
    ann, bob = in_call(new_page, step10, room, ["Ann", "Bob"])
    ann.click("#record")
    expect(bob.locator("#recording-notice")).to_be_visible()
    carol = open_page(new_page, step10, room, "Carol")
    expect(carol.locator("#recording-notice")).to_contain_text("Ann started recording this call")
    expect_one_connection(carol, 3)
    expect_video_from(ann, "Carol")
    seconds = keep_recording(ann, "Carol")
    bob.click("#record")
    files = recorded_files(carol, 3)
    (href,) = [href for text, href in files.items() if text.endswith("-Carol.webm")]
    size = carol.evaluate(CAMERA_SIZE)
    expect_recording_of(step10, href, seconds, (size["width"], size["height"]), tmp_path)


def test_recordings_are_served_only_from_their_folder(step10):
    for path in ("/recordings/x/..%2f..%2fpyproject.toml", "/recordings/../pyproject.toml"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(step10.url + path, timeout=5)
        assert refused.value.code == 404


def test_across_browsers_each_member_is_recorded(
    step10, new_page, room, browser, other_browser, tmp_path
):
    ann = open_page(new_page, step10, room, "Ann")
    bob = open_page(new_page, step10, room, "Bob", in_browser=other_browser)
    for page, other in ((ann, "Bob"), (bob, "Ann")):
        expect_one_connection(page, 2)
        expect_video_from(page, other)
    bob.click("#record")
    expect(ann.locator("#recording-notice")).to_contain_text("Bob started recording")
    seconds = keep_recording(bob, "Ann")
    bob.click("#record")
    files = recorded_files(ann, 2)
    for name, page in (("Ann", ann), ("Bob", bob)):
        (href,) = [href for text, href in files.items() if text.endswith(f"-{name}.webm")]
        size = page.evaluate(CAMERA_SIZE)
        expect_recording_of(step10, href, seconds, (size["width"], size["height"]), tmp_path)
