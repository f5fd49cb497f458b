"""The command-line Python peer (common/peer.py, aiortc) in rooms with real browser pages.

The peer runs as its own process, `python -m common.peer ... --echo`, the way a learner starts it:
an independent WebRTC stack on the other end of the browsers' connections. The tests read what it
prints, type on its stdin, and look at the browser pages.
"""

import base64
import hashlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import engineio
import pytest
from playwright.sync_api import expect

from common.peer import ChatPeer, Member, candidate_from_browser, parse_args, shown
from common.peer_files import free_path, safe_name
from common.peer_signaling import InOrderEngineIOClient
from tests.signaling_client import Member as SignalingMember
from tests.test_step8_file_transfer import SAVED_BYTES

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20  # seconds to start: importing aiortc is slow on a busy machine
LINE_TIMEOUT = 15  # seconds for any other line the peer is expected to print
EXIT_TIMEOUT = 10

# Holds back the page's outgoing signals until the test opens the gate (see the glare test).
HOLD_SIGNALS = """
(() => {
  let openGate;
  const gate = new Promise((resolve) => (openGate = resolve));
  window.openSignalGate = openGate;
  const send = Signaling.prototype.send;
  Signaling.prototype.send = async function (...args) {
    await gate;
    return send.apply(this, args);
  };
})();
"""
HAS_LOCAL_OFFER = "openPeerConnections()[0]?.signalingState === 'have-local-offer'"


class PythonPeer:
    """`python -m common.peer` as a subprocess: its stdout lines, read with a deadline, and its
    stdin."""

    def __init__(self, url, room, step, name, *options):
        command = [sys.executable, "-m", "common.peer", "--url", url, "--room", room]
        command += ["--step", str(step), "--name", name, "--echo", *options]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.output = []  # every line printed so far
        self.unread = queue.Queue()
        threading.Thread(target=self.read_output, daemon=True).start()

    def read_output(self):
        for line in self.process.stdout:
            self.unread.put(line.rstrip("\n"))
        self.unread.put(None)

    def expect_line(self, line, timeout=LINE_TIMEOUT):
        """Waits until the peer has printed exactly `line` (now or earlier)."""
        deadline = time.monotonic() + timeout
        while line not in self.output:
            try:
                got = self.unread.get(timeout=max(0, deadline - time.monotonic()))
            except queue.Empty:
                got = None
            if got is None:
                shown = "\n".join(self.output)
                raise AssertionError(
                    f"the Python peer never printed {line!r}; it printed:\n{shown}"
                )
            self.output.append(got)

    def type(self, text):
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def wait_for_exit(self):
        code = self.process.wait(timeout=EXIT_TIMEOUT)
        while (line := self.unread.get(timeout=EXIT_TIMEOUT)) is not None:
            self.output.append(line)
        return code

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdin.close()


@pytest.fixture
def python_peer(room):
    """python_peer(server, step, *options) -> a Python peer called Py, with --echo, in the test's
    room."""
    peers = []

    def start(server, step, *options):
        peer = PythonPeer(server.url, room, step, "Py", *options)
        peers.append(peer)
        peer.expect_line(f"* Connected to the signaling server at {server.url}.", START_TIMEOUT)
        return peer

    yield start
    for peer in peers:
        peer.stop()


@pytest.fixture
def join(room, new_page):
    """join(server, name) -> a browser page that has asked to join the test's room."""

    def join_as(server, name):
        page = new_page(f"{server.url}/?room={room}")
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.fill("#name", name)
        page.click("#join")
        return page

    return join_as


def chat(page, text):
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#message", text)
    page.click("#send")


def received(page):
    return page.locator("#log li.received")


def expect_mesh(page, peers):
    expect(page.locator("#connection-count")).to_have_text(str(peers))
    expect(page.locator("#channel-count")).to_have_text(str(peers))
    assert page.evaluate("openPeerConnections().length") == peers


@pytest.mark.browser
def test_step4_a_browser_and_the_python_peer_chat_both_ways(start_server, python_peer, join):
    server = start_server(4)
    py = python_peer(server, 4)
    py.expect_line("* You are the first one here. Whoever joins next will call you.")

    # Ann is the newcomer: her browser makes the offer, aiortc answers.
    ann = join(server, "Ann")
    expect_mesh(ann, 1)
    py.expect_line("* Ann joined; they are calling you.")
    py.expect_line("* Connection with Ann: connected")
    py.expect_line("* Chat channel with Ann is open.")

    chat(ann, "hello from the browser")
    py.expect_line("Ann: hello from the browser")
    expect(received(ann)).to_have_text(["Py: echo: hello from the browser"])

    py.type("hello from the terminal")
    expect(received(ann)).to_have_text(
        ["Py: echo: hello from the browser", "Py: hello from the terminal"]
    )


@pytest.mark.browser
def test_step2_the_python_peer_calls_the_browser_already_there(start_server, python_peer, join):
    server = start_server(2)
    ann = join(server, "Ann")
    expect(ann.locator("#log")).to_contain_text("Waiting for someone")

    # Py is the newcomer: aiortc makes the offer, with its candidates already in the SDP.
    py = python_peer(server, 2)
    py.expect_line("* Calling the 1 already here: Ann.")
    expect(ann.locator("#peer-name")).to_have_text("Py")
    expect(ann.locator("#connection-state")).to_have_text("connected")
    py.expect_line("* Connection with Ann: connected")
    assert ann.evaluate("openPeerConnections().length") == 1

    chat(ann, "hi Py")
    py.expect_line("Ann: hi Py")
    expect(received(ann)).to_have_text(["Py: echo: hi Py"])
    py.type("hi Ann")
    expect(received(ann).last).to_have_text("Py: hi Ann")


@pytest.mark.browser
def test_step4_two_browsers_and_the_python_peer_form_a_full_mesh(start_server, python_peer, join):
    server = start_server(4)
    ann = join(server, "Ann")
    expect(ann.locator("#log")).to_contain_text("You are the first one here")
    py = python_peer(server, 4)  # calls Ann
    py.expect_line("* Connection with Ann: connected")
    bob = join(server, "Bob")  # calls Ann and Py

    for page in (ann, bob):
        expect_mesh(page, 2)
        expect(page.locator("#mesh-summary")).to_contain_text("3 in the whole mesh")
    py.expect_line("* Bob joined; they are calling you.")
    py.expect_line("* Chat channel with Ann is open.")
    py.expect_line("* Chat channel with Bob is open.")

    chat(bob, "hi all")
    expect(received(ann)).to_have_text(["Bob: hi all"])
    py.expect_line("Bob: hi all")
    expect(received(bob)).to_have_text(["Py: echo: hi all"])
    # A line typed into Py goes to everyone. Ann's channel from Py delivers in order, so an echo
    # wrongly sent to her would show before it.
    py.type("Py to all")
    expect(received(ann)).to_have_text(["Bob: hi all", "Py: Py to all"])
    expect(received(bob)).to_have_text(["Py: echo: hi all", "Py: Py to all"])


@pytest.mark.browser
def test_step4_the_python_peer_rides_out_a_signaling_restart(own_server, python_peer, join):
    server = own_server(4)
    ann = join(server, "Ann")
    py = python_peer(server, 4)
    expect_mesh(ann, 1)
    py.expect_line("* Chat channel with Ann is open.")

    server.stop()
    py.expect_line(
        "* Lost the signaling server; chats that are up go on peer to peer. Reconnecting..."
    )
    chat(ann, "still there?")  # peer to peer: no server needed
    py.expect_line("Ann: still there?")
    server.start()
    py.expect_line("* Signaling is back: rejoined the room.", timeout=START_TIMEOUT)
    expect(ann.locator("#log")).to_contain_text("rejoined the room", timeout=START_TIMEOUT * 1000)

    # Py is a member again under a new id: a newcomer's offer reaches it, and it answers.
    bob = join(server, "Bob")
    expect_mesh(bob, 2)
    expect_mesh(ann, 2)
    chat(bob, "hi both")
    py.expect_line("Bob: hi both")
    expect(received(bob)).to_have_text(["Py: echo: hi both"])
    expect(received(ann)).to_have_text(["Py: echo: still there?", "Bob: hi both"])
    # Ann and Py kept the connection they had: never a second one.
    assert py.output.count("* Connection with Ann: connected") == 1, py.output
    expect(ann.locator("#users li")).to_have_count(2)


@pytest.mark.parametrize("how", ["SIGINT", "end of input"])
@pytest.mark.browser
def test_the_python_peer_leaves_cleanly(start_server, python_peer, join, how):
    server = start_server(4)
    py = python_peer(server, 4)
    ann = join(server, "Ann")
    expect_mesh(ann, 1)
    py.expect_line("* Chat channel with Ann is open.")

    if how == "SIGINT":
        py.process.send_signal(signal.SIGINT)  # Ctrl+C
    else:
        py.process.stdin.close()  # Ctrl+D, or the end of a piped file

    expect(ann.locator("#log")).to_contain_text("Py left.")
    expect_mesh(ann, 0)
    expect(ann.locator("#users li")).to_have_count(0)
    assert py.wait_for_exit() == 0
    assert py.output[-1] == "* You left the room.", py.output
    assert not [line for line in py.output if line.startswith(("!", "Traceback"))], py.output


# Step 3: nobody connects until someone wants to talk; both sides create the same negotiated
# channel; crossed offers are settled by perfect negotiation.


def step3_pane(page, name):
    return page.locator(f'.chat[data-peer-name="{name}"]')


def step3_open_chat(page, name):
    page.locator(f'#users li[data-peer-name="{name}"] button').click()
    expect(step3_pane(page, name)).to_be_visible()


def step3_say(page, name, text):
    pane = step3_pane(page, name)
    expect(pane.locator(".send")).to_be_enabled()
    pane.locator(".message").fill(text)
    pane.locator(".send").click()


def step3_received(page, name):
    return step3_pane(page, name).locator(".log li.received")


@pytest.mark.browser
def test_step3_a_browser_opens_a_private_chat_with_the_python_peer(start_server, python_peer, join):
    server = start_server(3)
    py = python_peer(server, 3)
    ann = join(server, "Ann")
    expect(ann.locator("#users li[data-peer-name] .name")).to_have_text(["Py"])
    py.expect_line("* Ann joined.")
    assert ann.evaluate("openPeerConnections().length") == 0

    step3_open_chat(ann, "Py")
    expect(ann.locator('#users li[data-peer-name="Py"] .connection-state')).to_have_text(
        "connected"
    )
    py.expect_line("* Chat channel with Ann is open.")
    step3_say(ann, "Py", "psst, Py")
    py.expect_line("Ann: psst, Py")
    expect(step3_received(ann, "Py")).to_have_text(["Py: echo: psst, Py"])
    # A plain line goes to every open chat: here, Ann's.
    py.type("hi Ann, from the terminal")
    expect(step3_received(ann, "Py").last).to_have_text("Py: hi Ann, from the terminal")
    assert ann.evaluate("openPeerConnections().length") == 1


@pytest.mark.browser
def test_step3_offers_crossing_between_browser_and_python_peer_end_in_one_connection(
    start_server, python_peer, join
):
    server = start_server(3)
    py = python_peer(server, 3)
    ann = join(server, "Ann")
    py.expect_line("* Ann joined.")
    ann.evaluate(HOLD_SIGNALS)

    # Ann clicks Py: her offer is made but held back. Then Py opens a chat with Ann: its offer
    # reaches Ann while hers is pending, and hers reaches Py once the gate opens, while Py waits
    # for an answer to its own. Py was in the room first, so Py is the polite side: it gives way.
    step3_open_chat(ann, "Py")
    ann.wait_for_function(HAS_LOCAL_OFFER)
    py.type("@Ann hi Ann, Py here")
    py.expect_line("* Opening a chat with Ann: offer sent.")
    ann.evaluate("window.openSignalGate()")

    expect(ann.locator('#users li[data-peer-name="Py"] .connection-state')).to_have_text(
        "connected"
    )
    expect(step3_received(ann, "Py")).to_have_text(["Py: hi Ann, Py here"])
    step3_say(ann, "Py", "got it")
    py.expect_line("Ann: got it")
    # Py really met crossed offers (it printed this while handling Ann's offer, so it is read).
    crossed = [line for line in py.output if line.startswith("* Offers crossed with Ann")]
    assert crossed == ["* Offers crossed with Ann: answering theirs (we are polite)."], py.output
    expect(step3_received(ann, "Py").last).to_have_text("Py: echo: got it")
    assert ann.evaluate("openPeerConnections().length") == 1
    expect(ann.locator(".log li.error")).to_have_count(0)
    assert not [line for line in py.output if line.startswith("!")], py.output


# The parts of the peer that need no browser.


def test_a_browser_candidate_becomes_an_aiortc_candidate():
    candidate = candidate_from_browser(
        {
            "candidate": "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx "
            "raddr 10.0.0.5 rport 46154 generation 0 ufrag EEtu network-cost 999",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": "EEtu",
        }
    )
    assert (candidate.foundation, candidate.component, candidate.protocol) == (
        "842163049",
        1,
        "udp",
    )
    assert (candidate.ip, candidate.port, candidate.type) == ("192.0.2.7", 46154, "srflx")
    assert (candidate.relatedAddress, candidate.relatedPort) == ("10.0.0.5", 46154)
    assert (candidate.sdpMid, candidate.sdpMLineIndex) == ("0", 0)
    # The end of candidates is an empty candidate: nothing to add.
    assert candidate_from_browser({"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}) is None


def test_text_from_others_cannot_drive_the_terminal():
    assert shown("hi \x1b[2J\x1b]0;owned\x07 there") == "hi \\x1b[2J\\x1b]0;owned\\x07 there"
    assert shown("Zoë 👋") == "Zoë 👋"


class FakeSignaling:
    def on(self, event, handler):
        pass


class FakeChannel:
    readyState = "open"

    def __init__(self):
        self.sent = []

    def send(self, text):
        self.sent.append(text)


def test_echo_answers_the_sender_but_never_an_echo(capsys):
    peer = ChatPeer(FakeSignaling(), step=4, name="Py", echo=True)
    ann, channel = Member("a1", "Ann"), FakeChannel()
    peer.on_message(ann, channel, "hello")
    peer.on_message(ann, channel, "echo: hello")  # another echoing peer: no endless ping-pong
    assert channel.sent == ["echo: hello"]
    assert capsys.readouterr().out.splitlines() == ["Ann: hello", "Ann: echo: hello"]


def test_step3_at_name_finds_the_longest_matching_member_ignoring_case():
    peer = ChatPeer(FakeSignaling(), step=3, name="Py", echo=False)
    for member in (Member("1", "Ann"), Member("2", "Ann Lee"), Member("3", "Bob")):
        peer.members[member.id] = member
    assert peer.addressee("ann lee hello").name == "Ann Lee"
    assert peer.addressee("Ann hello").name == "Ann"
    assert peer.addressee("BOB").name == "Bob"
    assert peer.addressee("Annie hi") is None
    assert peer.addressee("Cat hi") is None


def test_the_defaults_suit_make_run(monkeypatch):
    monkeypatch.delenv("STEP", raising=False)
    args = parse_args([])
    assert (args.step, args.room, args.url, args.echo) == (
        4,
        "demo",
        "http://127.0.0.1:8080",
        False,
    )
    assert args.name.startswith("py-")
    monkeypatch.setenv("STEP", "3")
    assert parse_args([]).step == 3
    monkeypatch.setenv("STEP", "5")  # a step the peer does not join: the default stays 4
    assert parse_args(["--name", "Cy"]).step == 4


def test_a_refused_join_is_explained_and_ends_the_peer(start_server, room):
    server = start_server(4)
    ann = SignalingMember(server.url)
    try:
        ann.join(room, "Py")
        py = PythonPeer(server.url, room, 4, "PY")  # names are unique ignoring case
        try:
            assert py.wait_for_exit() == 1
        finally:
            py.stop()
        assert any(line.startswith(f"! Could not join room {room}") for line in py.output)
        assert py.output[-1].endswith("(name-taken)"), py.output
    finally:
        ann.close()


def test_events_from_the_server_are_handed_over_in_the_order_they_came():
    """The engine.io client would start one thread per message; ours handles each one on the
    reading thread, in order (this checks the override still takes hold in the installed
    library)."""
    client = InOrderEngineIOClient()
    threads = []
    client.on("message", lambda data: threads.append((data, threading.current_thread())))
    for data in ("offer", "candidate"):
        client._receive_packet(engineio.packet.Packet(engineio.packet.MESSAGE, data))
    assert threads == [
        ("offer", threading.current_thread()),
        ("candidate", threading.current_thread()),
    ]


def test_https_with_a_self_signed_certificate_takes_insecure(own_server, room):
    server = own_server(4, HTTPS=1, CERT_FILE="", KEY_FILE="")
    refused = PythonPeer(server.url, room, 4, "Ann")
    accepted = PythonPeer(server.url, room, 4, "Py", "--insecure")
    try:
        accepted.expect_line("* You are the first one here. Whoever joins next will call you.")
        assert refused.wait_for_exit() == 1
        assert "Add --insecure to accept it." in refused.output[-1], refused.output
    finally:
        refused.stop()
        accepted.stop()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.mark.browser
def test_step8_files_go_between_the_python_peer_and_a_page_both_ways(
    start_server, python_peer, join, tmp_path
):
    server = start_server(8)
    ann = join(server, "Ann")
    expect(ann.locator("#log")).to_contain_text("Waiting for someone")
    outgoing, saved = tmp_path / "from-python.bin", tmp_path / "saved"
    there = os.urandom(3 * 1024 * 1024 + 7)
    outgoing.write_bytes(there)
    py = python_peer(server, 8, "--send", str(outgoing), "--save-dir", str(saved))
    # Py calls, and sends its file once the files channel is open: the page checks it...
    row = ann.locator('#transfers li[data-name="from-python.bin"]')
    expect(row).to_contain_text(f"received, SHA-256 {sha256(there)}: matches", timeout=30_000)
    assert sha256(base64.b64decode(row.evaluate(SAVED_BYTES))) == sha256(there)
    # ...and answers with its hash, which Py compares with its own.
    py.expect_line(f"* Sent from-python.bin to Ann: SHA-256 {sha256(there)}; Ann's copy matches.")
    # The other way: Py keeps the file in --save-dir, under its own name.
    back = os.urandom(1024 * 1024 + 3)
    ann.set_input_files(
        "#files", files=[{"name": "from page.bin", "mimeType": "text/plain", "buffer": back}]
    )
    ann.click("#send-files")
    kept = saved / "from page.bin"
    py.expect_line(
        f"* Received from page.bin from Ann: SHA-256 {sha256(back)}, which matches theirs; "
        f"saved as {kept}."
    )
    assert sha256(kept.read_bytes()) == sha256(back)
    expect(ann.locator('#transfers li[data-name="from page.bin"]')).to_contain_text(
        f"sent, SHA-256 {sha256(back)}: Py's copy matches"
    )


def test_a_file_name_from_another_peer_is_made_safe_to_save(tmp_path):
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Windows\\evil.exe") == "evil.exe"
    assert safe_name(".bashrc") == "bashrc"
    assert safe_name("a\x1b[2Jb;rm -rf.txt") == "a__2Jb_rm -rf.txt"
    assert safe_name("..") == "file"
    (tmp_path / "photo.jpg").write_bytes(b"")
    assert free_path(tmp_path, "photo.jpg") == tmp_path / "photo (2).jpg"
    assert free_path(tmp_path, "new.jpg") == tmp_path / "new.jpg"
