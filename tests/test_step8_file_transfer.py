"""Step 8: files over a data channel, between real browser pages. The tests give the page random
bytes, take back what the other page offers to save, and compare SHA-256 hashes computed here;
a probe injected into the page records the most that ever waited in the files channel's buffer,
which the page's backpressure must keep under its bound."""

import base64
import hashlib
import os

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
STEP = 8
MIB = 1024 * 1024
# main.js: the sender never lets more than this wait in the channel, nor less than a chunk fill it.
HIGH_WATER_BYTES = 1 * MIB
CHUNK_BYTES = 64 * 1024
# A cancel waits behind what its sender already queued on the channel (up to HIGH_WATER_BYTES).
# With files going both ways on a busy machine, Chromium was seen taking 6 s to drain that much in
# one direction while the other ran at full speed, so the cancel may land after the whole file.
CANCEL_TRAVELS = 30_000  # ms

# Records, after every send() on a data channel, the most that has waited in its buffer:
# `maxBuffered[label]`; and how many 'close' listeners each channel holds that nothing removed:
# `closeListeners[label]` (an abort of the listener's signal removes it).
RECORD_BUFFERED = """
(() => {
  window.maxBuffered = {};
  window.closeListeners = {};
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    send.call(this, data);
    window.maxBuffered[this.label] = Math.max(window.maxBuffered[this.label] ?? 0,
      this.bufferedAmount);
  };
  const addEventListener = EventTarget.prototype.addEventListener;
  RTCDataChannel.prototype.addEventListener = function (type, listener, options) {
    if (type === 'close') {
      const label = this.label;
      window.closeListeners[label] = (window.closeListeners[label] ?? 0) + 1;
      options?.signal?.addEventListener('abort', () => {
        window.closeListeners[label] -= 1;
      });
    }
    return addEventListener.call(this, type, listener, options);
  };
})();
"""
# The bytes behind a transfer row's Save link, as base64.
SAVED_BYTES = """
async (row) => {
  const blob = await (await fetch(row.querySelector('a.save').href)).blob();
  const url = await new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
  return url.slice(url.indexOf(',') + 1);
}
"""
# Puts a file of `size` bytes made in the page into the file input (bigger than the test would
# want to hand over through the browser driver).
BIG_FILE = """
([name, size]) => {
  const bytes = new Uint8Array(size).map((_, i) => (i * 7919) % 251);
  const files = new DataTransfer();
  files.items.add(new File([bytes], name));
  const input = document.querySelector('#files');
  input.files = files.files;
}
"""


def join_pair(new_page, server, room, other_browser=None):
    pages = []
    for name, browser in (("Ann", None), ("Bob", other_browser)):
        page = new_page(
            f"{server.url}/?room={room}", in_browser=browser, init_script=RECORD_BUFFERED
        )
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.fill("#name", name)
        page.click("#join")
        pages.append(page)
    for page in pages:
        expect(page.locator("#send-files")).to_be_enabled()
    return pages


def send(page, files):
    """Sends {name: bytes} from `page` through its file input and Send button."""
    page.set_input_files(
        "#files",
        files=[
            {"name": name, "mimeType": "application/octet-stream", "buffer": data}
            for name, data in files.items()
        ],
    )
    page.click("#send-files")


def row(page, name):
    return page.locator(f'#transfers li[data-name="{name}"]')


def expect_arrived(sender, receiver, name, data):
    """`data` went from sender to receiver intact: both show its SHA-256 as matching, and the
    bytes the receiver offers to save hash the same here."""
    digest = hashlib.sha256(data).hexdigest()
    received, sent = row(receiver, name), row(sender, name)
    expect(received).to_have_attribute("data-state", "done", timeout=30_000)
    expect(received).to_contain_text(f"received, SHA-256 {digest}: matches")
    their = receiver.locator("#name").input_value()
    expect(sent).to_contain_text(f"sent, SHA-256 {digest}: {their}'s copy matches")
    saved = base64.b64decode(received.evaluate(SAVED_BYTES))
    assert len(saved) == len(data) and hashlib.sha256(saved).hexdigest() == digest
    for page in (sender, receiver):
        progress = row(page, name).locator("progress")
        assert progress.evaluate("p => [p.value, p.max]") == [len(data), max(len(data), 1)]


def test_a_few_mib_of_random_bytes_arrive_identical_within_the_buffer_bound(
    start_server, new_page, room
):
    ann, bob = join_pair(new_page, start_server(STEP), room)
    data = os.urandom(4 * MIB + 12345)
    send(ann, {"random.bin": data})
    expect(row(bob, "random.bin")).to_contain_text("receiving from Ann")
    expect_arrived(ann, bob, "random.bin", data)
    # Backpressure: the buffer filled (the sender really had to wait), and never past the bound.
    most = ann.evaluate("maxBuffered.files")
    assert CHUNK_BYTES <= most <= HIGH_WATER_BYTES, most
    # Every wait for the buffer to drain took its listeners away again: none piled up.
    assert ann.evaluate("closeListeners.files ?? 0") == 0
    # The chat channel is free while files flow, and still works.
    ann.fill("#message", "did it arrive?")
    ann.click("#send")
    expect(bob.locator("#log")).to_contain_text("Ann: did it arrive?")


def test_several_files_in_a_row_each_checked_both_ways(start_server, new_page, room):
    ann, bob = join_pair(new_page, start_server(STEP), room)
    files = {"empty.txt": b"", "small.txt": b"hello, file\n", "one-mib.bin": os.urandom(MIB)}
    send(ann, files)
    for name, data in files.items():
        expect_arrived(ann, bob, name, data)
    back = {"reply.bin": os.urandom(300_000)}
    send(bob, back)
    expect_arrived(bob, ann, "reply.bin", back["reply.bin"])


def test_a_copy_that_hashes_differently_is_an_error_on_the_sender_too(start_server, new_page, room):
    """The receiver's page reports another SHA-256 than ours (its hashing replaced by one that
    lies): the sender's row says the copy does not match, and ends as an error, not as done."""
    ann, bob = join_pair(new_page, start_server(STEP), room)
    bob.evaluate("window.sha256 = async () => '0'.repeat(64)")
    data = os.urandom(100_000)
    send(ann, {"tampered.bin": data})
    sent = row(ann, "tampered.bin")
    expect(sent).to_have_attribute("data-state", "error", timeout=30_000)
    digest = hashlib.sha256(data).hexdigest()
    expect(sent).to_contain_text(f"sent, SHA-256 {digest}: Bob's copy does not match ours")


@pytest.mark.parametrize("who_cancels", ["sender", "receiver"])
def test_cancel_from_either_side_leaves_both_ready_for_the_next_file(
    start_server, new_page, room, who_cancels
):
    ann, bob = join_pair(new_page, start_server(STEP), room)
    ann.evaluate(BIG_FILE, ["big.bin", 64 * MIB])
    ann.click("#send-files")
    expect(row(bob, "big.bin")).to_contain_text("receiving from Ann")
    expect(row(ann, "big.bin")).to_contain_text("sending to Bob")
    canceller, other = (ann, bob) if who_cancels == "sender" else (bob, ann)
    row(canceller, "big.bin").locator("button.cancel").click()
    by = "Ann" if canceller is ann else "Bob"
    expect(row(canceller, "big.bin")).to_contain_text("cancelled by you")
    expect(row(other, "big.bin")).to_contain_text(f"cancelled by {by}", timeout=CANCEL_TRAVELS)
    for page in (ann, bob):
        expect(row(page, "big.bin").locator("button.cancel")).to_have_count(0)
        expect(row(page, "big.bin").locator("a.save")).to_have_count(0)
        assert row(page, "big.bin").locator("progress").evaluate("p => p.value < p.max")
    # Both sides are ready: the next file goes through whole.
    data = os.urandom(200_000)
    send(ann, {"next.bin": data})
    expect_arrived(ann, bob, "next.bin", data)


def big_file_bytes(size):
    """What BIG_FILE puts in the page, made here too."""
    period = bytes((i * 7919) % 251 for i in range(251))  # byte i depends on i modulo 251 only
    return (period * (size // 251 + 1))[:size]


def test_both_sending_at_once_a_cancel_stops_only_the_file_it_names(start_server, new_page, room):
    ann, bob = join_pair(new_page, start_server(STEP), room)
    bob.evaluate(BIG_FILE, ["from-bob.bin", 32 * MIB])
    bob.click("#send-files")
    expect(row(ann, "from-bob.bin")).to_contain_text("receiving from Bob")
    ann.evaluate(BIG_FILE, ["from-ann.bin", 64 * MIB])
    ann.click("#send-files")
    expect(row(bob, "from-ann.bin")).to_contain_text("receiving from Ann")
    # Each page now has a file going out and one coming in: Bob cancels Ann's, and only hers.
    row(bob, "from-ann.bin").locator("button.cancel").click()
    expect(row(bob, "from-ann.bin")).to_contain_text("cancelled by you")
    expect(row(ann, "from-ann.bin")).to_contain_text("cancelled by Bob", timeout=CANCEL_TRAVELS)
    digest = hashlib.sha256(big_file_bytes(32 * MIB)).hexdigest()
    done = f"received, SHA-256 {digest}: matches"
    expect(row(ann, "from-bob.bin")).to_contain_text(done, timeout=60_000)
    expect(row(bob, "from-bob.bin")).to_contain_text(f"SHA-256 {digest}: Ann's copy matches")


def test_a_peer_breaking_the_protocol_is_refused_and_its_name_stays_text(
    start_server, new_page, room
):
    ann, bob = join_pair(new_page, start_server(STEP), room)
    hostile = "<img src=x onerror=window.pwned=1>"
    # Ann's page misbehaves on its files channel: junk, then a file longer than announced.
    ann.evaluate(
        """(name) => {
          const files = createdChannels.find((c) => c.label === 'files');
          files.send('not json');
          files.send(JSON.stringify({type: 'file', id: 'x', name: 42, size: 3}));
          files.send(JSON.stringify({type: 'file', id: 99, name, size: 10}));
          files.send(new Uint8Array(20));
        }""",
        hostile,
    )
    refused = row(bob, hostile)
    expect(refused).to_contain_text("cancelled: Ann sent more than the size announced")
    expect(refused.locator(".file-name")).to_have_text(f"{hostile} (10 B)")
    assert bob.evaluate("window.pwned") is None
    expect(bob.locator("#transfers li")).to_have_count(1)  # the junk and the bad header made none
    expect(row(ann, hostile)).to_have_count(0)  # Ann's page never announced a file of its own
    # A file that ends short of its size is not passed off as whole, whatever hash it claims.
    ann.evaluate(
        """() => {
          const files = createdChannels.find((c) => c.label === 'files');
          files.send(JSON.stringify({type: 'file', id: 100, name: 'short.bin', size: 10}));
          files.send(new Uint8Array(4));
          files.send(JSON.stringify({type: 'end', id: 100, sha256: 'anything'}));
        }"""
    )
    expect(row(bob, "short.bin")).to_contain_text("incomplete: 4 of 10 bytes")
    data = os.urandom(100_000)
    send(ann, {"fine.bin": data})
    expect_arrived(ann, bob, "fine.bin", data)


def test_across_browsers_files_go_both_ways_intact(
    start_server, new_page, room, browser, other_browser
):
    ann, bob = join_pair(new_page, start_server(STEP), room, other_browser=other_browser)
    there, back = os.urandom(2 * MIB + 1), os.urandom(MIB - 1)
    send(ann, {"there.bin": there})
    expect_arrived(ann, bob, "there.bin", there)
    send(bob, {"back.bin": back})
    expect_arrived(bob, ann, "back.bin", back)
    for page in (ann, bob):
        assert page.evaluate("maxBuffered.files") <= HIGH_WATER_BYTES
