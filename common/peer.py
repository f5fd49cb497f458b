"""A WebRTC peer on the command line, in Python (aiortc): it joins a room of steps 2, 3, 4 or 8
and talks to the browsers there as one more member.

    STEP=4 make peer ARGS='--room demo'              # chat from the terminal
    STEP=4 make peer ARGS='--room demo --echo'       # someone to talk to when alone
    STEP=8 make peer ARGS='--room demo --send photo.jpg --save-dir received'   # files

(`make peer` runs `python -m common.peer` in the virtual environment; see docs/python-peer.md.)

It follows the same signaling contract (docs/signaling-contract.md) and the same rules as the
steps' main.js: both sides of a connection create the same negotiated 'chat' channel; in steps 2
and 4 the newcomer makes an offer to every member already in the room, and members already there
answer; in step 3 nobody connects until someone wants to talk, and crossed offers are settled by
perfect negotiation, where whoever was in the room first is the polite side. What differs is
aiortc: it does not trickle candidates. Its setLocalDescription() gathers them all first, so the
description it sends already lists them, and there is no icecandidate event to forward.
"""

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import threading
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp

from common.peer_files import Files, shown
from common.peer_signaling import Signaling, SignalingError

STEPS = {
    2: "two users, one peer connection",
    3: "a user list and private chats",
    4: "a group chat, a full mesh",
    8: "two users, chat and files",
}
ECHO_PREFIX = "echo: "
MAX_MESSAGE_CHARS = 2000  # as the pages (common/static/ui.js)
REJOIN_ATTEMPTS = 5
ANIMALS = ["Otter", "Heron", "Lynx", "Puffin", "Badger", "Gecko", "Marten", "Ibis", "Koala"]


def say(text):
    print(text, flush=True)


@dataclass
class Member:
    """Another member of the room, and what this peer holds for them."""

    id: str
    name: str
    polite: bool = False  # step 3: they came in after us, so we give way when offers cross
    connection: RTCPeerConnection | None = None
    channel: object = None  # the RTCDataChannel named 'chat'
    ignore_offer: bool = False  # step 3: their last offer crossed ours and lost
    outbox: list = field(default_factory=list)  # step 3: lines waiting for the channel to open
    files: Files | None = None  # step 8: the 'files' channel (common/peer_files.py)


class ChatPeer:
    """This program's side of the room: one RTCPeerConnection and one data channel per member it
    talks to. Every event (from the server, from stdin) waits in one queue and is handled to the
    end before the next, as a browser queues operations on a peer connection: an offer is applied
    before the candidates sent after it."""

    def __init__(self, signaling, step, name, echo, send_files=(), save_dir=None):
        self.signaling = signaling
        self.step = step
        self.name = name
        self.echo = echo
        self.send_files = list(send_files)  # step 8: sent to each member once connected
        self.save_dir = save_dir  # step 8: where files received are kept (None: not kept)
        self.room = None
        self.my_id = None
        self.lost = False  # joined, but the signaling server is gone for now
        self.ice_servers = []
        self.members = {}  # member id -> Member
        self.events = asyncio.Queue()
        for event, handler in [
            ("peer-joined", self.on_peer_joined),
            ("peer-left", self.on_peer_left),
            ("signal", self.on_signal),
            ("disconnect", self.on_signaling_lost),
            ("connect", self.on_signaling_back),
        ]:
            signaling.on(event, lambda data, handler=handler: self.post(handler, data))

    def post(self, handler, data=None):
        self.events.put_nowait((handler, data))

    def stop(self):
        self.events.put_nowait(None)

    async def run(self):
        """Handles events one at a time until stop()."""
        while (event := await self.events.get()) is not None:
            handler, data = event
            try:
                await handler(data)
            except Exception as error:
                say(f"! {type(error).__name__}: {error}")

    # Joining and leaving

    async def join(self, room):
        ack = await self.signaling.join(room, self.name)
        self.room = room
        self.accept(ack)
        say(f"* You joined room {room} as {self.name} (step {self.step}: {STEPS[self.step]}).")
        members = [self.add_member(peer, polite=False) for peer in ack["peers"]]
        if self.step == 3:
            self.explain_step3(members)
        elif not members:
            say("* You are the first one here. Whoever joins next will call you.")
        else:
            names = ", ".join(m.name for m in members)
            say(f"* Calling the {len(members)} already here: {shown(names)}.")
            for member in members:
                await self.call(member)

    def accept(self, ack):
        self.my_id = ack["id"]
        # The server's list (empty by default), so aiortc never reaches for a public STUN server.
        self.ice_servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in ack["iceServers"]
        ]

    def explain_step3(self, members):
        here = ", ".join(shown(m.name) for m in members) or "nobody else yet"
        say(f"* Here: {here}. They can click your name to chat with you.")
        say("* Type @Name message to open a chat yourself; other lines go to every open chat.")

    async def leave(self):
        for member in list(self.members.values()):
            await self.hang_up(member)
        self.members.clear()
        if self.my_id is not None and not self.lost:
            self.my_id = None
            try:
                await self.signaling.leave()
            except Exception as error:  # refused, timed out, or the server is gone
                say(f"! Could not tell the server you left: {error}")
        say("* You left the room.")

    def add_member(self, peer, polite):
        if peer["id"] not in self.members:  # someone joining as we join can be announced twice
            self.members[peer["id"]] = Member(peer["id"], peer["name"], polite)
        return self.members[peer["id"]]

    async def on_peer_joined(self, peer):
        if await self.is_returning(peer):
            return
        member = self.add_member(peer, polite=True)
        then = "" if self.step == 3 else "; they are calling you"
        say(f"* {shown(member.name)} joined{then}.")

    async def on_peer_left(self, data):
        member = self.members.pop(data["id"], None)
        if member:
            say(f"* {shown(member.name)} left.")
            await self.hang_up(member)

    # After a signaling outage: the connections that are up do not need the server and go on,
    # as in the pages. Once back, we join again under a new id, and so does everyone else.

    async def on_signaling_lost(self, reason=None):
        if self.my_id is None:
            return
        if not self.signaling.reconnecting(reason):
            say("! The signaling server closed the connection, so you left the room.")
            self.my_id = None
            self.stop()
            return
        self.lost = True
        say("* Lost the signaling server; chats that are up go on peer to peer. Reconnecting...")

    async def on_signaling_back(self, _data=None):
        if not self.lost:
            return  # the first connection, not a reconnection
        for attempt in range(1, REJOIN_ATTEMPTS + 1):
            try:
                ack = await self.signaling.join(self.room, self.name)
                break
            except SignalingError as error:
                # name-taken: the server has not yet noticed that our old connection is gone.
                if error.code != "name-taken" or attempt == REJOIN_ATTEMPTS:
                    say(f"! Could not rejoin the room: {error}")
                    self.lost, self.my_id = False, None
                    self.stop()
                    return
                await asyncio.sleep(attempt)
        self.lost = False
        self.accept(ack)
        say("* Signaling is back: rejoined the room.")
        present = {peer["name"] for peer in ack["peers"]}
        for member in list(self.members.values()):
            if member.name not in present and not is_connected(member):
                await self.drop(member)  # gone meanwhile
        for peer in ack["peers"]:
            if peer["id"] in self.members or await self.is_returning(peer):
                continue
            member = self.add_member(peer, polite=False)
            if self.step != 3:
                await self.call(member)  # as a newcomer would

    async def is_returning(self, peer):
        """True if `peer` is a member we know by name, back under a new id after an outage."""
        known = next(
            (m for m in self.members.values() if m.name == peer["name"] and m.id != peer["id"]),
            None,
        )
        if known is None:
            return False
        if self.step != 3 and not is_connected(known):
            await self.drop(known)  # a connection to someone who is gone: they will call again
            return False
        del self.members[known.id]
        known.id = peer["id"]
        self.members[known.id] = known
        return True

    async def drop(self, member):
        self.members.pop(member.id, None)
        await self.hang_up(member)

    async def hang_up(self, member):
        if member.files:
            member.files.close()
        connection, member.connection, member.channel = member.connection, None, None
        if connection:
            await connection.close()

    # The connection to one member

    def create_connection(self, member):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        pc.on("connectionstatechange", lambda: self.on_connection_state_change(member, pc))
        # Both sides create the same channel themselves, whoever offers (step 2's README).
        self.set_up_channel(member, pc.createDataChannel("chat", negotiated=True, id=0))
        if self.step == 8:
            self.set_up_files(member, pc.createDataChannel("files", negotiated=True, id=1))
        return pc

    # Steps 2 and 4: the newcomer calls each member already in the room.
    async def call(self, member):
        try:
            member.connection = self.create_connection(member)
            await self.make_offer(member)
        except Exception as error:
            say(f"! Could not call {shown(member.name)}: {error}")

    async def make_offer(self, member):
        # No trickle: this returns once every candidate is gathered, and they are in the SDP.
        await member.connection.setLocalDescription()
        await self.send_description(member)

    async def send_description(self, member):
        description = member.connection.localDescription
        await self.send_signal(
            member, {"description": {"type": description.type, "sdp": description.sdp}}
        )

    async def send_signal(self, member, data):
        try:
            await self.signaling.send(member.id, data)
        except Exception as error:  # refused, timed out, or the server is gone
            say(f"! Could not send a signal to {shown(member.name)}: {error}")

    async def on_signal(self, message):
        member = self.members.get(message["from"])
        if member is None:
            return  # not a member of our room (any more)
        data = message["data"]
        if "description" in data:
            await self.on_description(member, data["description"])
        elif "candidate" in data:
            await self.on_candidate(member, data["candidate"])

    async def on_description(self, member, data):
        description = RTCSessionDescription(sdp=data["sdp"], type=data["type"])
        if member.connection is None:
            member.connection = self.create_connection(member)  # their offer: we answer
        crossed = description.type == "offer" and member.connection.signalingState != "stable"
        if crossed and self.step == 3 and not await self.settle_crossed_offers(member):
            return
        member.ignore_offer = False
        await member.connection.setRemoteDescription(description)
        if description.type == "offer":
            await member.connection.setLocalDescription()  # creates the answer
            await self.send_description(member)

    async def settle_crossed_offers(self, member):
        """Step 3's perfect negotiation, when their offer meets ours: True if we give way.

        Whoever was in the room first is polite, as in step 3's main.js. The impolite side
        ignores the incoming offer. The polite side drops its own: a browser rolls it back, but
        aiortc cannot roll back, so this side starts over with a fresh connection. Nothing was
        sent on the old one, and the negotiated channel is the same on the new one.
        """
        if not member.polite:
            say(f"* Offers crossed with {shown(member.name)}: keeping ours (we are impolite).")
            member.ignore_offer = True
            return False
        say(f"* Offers crossed with {shown(member.name)}: answering theirs (we are polite).")
        old = member.connection
        member.connection = self.create_connection(member)
        await old.close()
        return True

    async def on_candidate(self, member, data):
        if member.connection is None or member.ignore_offer:
            return  # candidates of an offer we ignored belong to no connection of ours
        candidate = candidate_from_browser(data)
        if candidate is not None:
            await member.connection.addIceCandidate(candidate)

    def on_connection_state_change(self, member, pc):
        if pc is not member.connection:
            return  # a connection we replaced or closed
        say(f"* Connection with {shown(member.name)}: {pc.connectionState}")
        if pc.connectionState == "failed":
            say(
                "  aiortc found no path to them. It never offers 127.0.0.1, so it needs a real"
                " network interface; see docs/python-peer.md."
            )

    # The chat channel

    def set_up_channel(self, member, channel):
        member.channel = channel
        channel.on("open", lambda: self.on_channel_open(member, channel))
        channel.on("message", lambda text: self.on_message(member, channel, text))
        if channel.readyState == "open":
            self.on_channel_open(member, channel)  # aiortc hands over a remote channel open

    def set_up_files(self, member, channel):
        member.files = Files(channel, shown(member.name), self.save_dir, say)

        def on_open():
            for path in self.send_files:
                member.files.start_sending(path)

        channel.on("open", on_open)

    def on_channel_open(self, member, channel):
        if channel is not member.channel:
            return
        say(f"* Chat channel with {shown(member.name)} is open.")
        self.send_outbox(member)

    def send_outbox(self, member):
        while member.outbox:
            member.channel.send(member.outbox.pop(0))

    def on_message(self, member, channel, text):
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        say(f"{shown(member.name)}: {shown(text)}")
        # Never echo an echo: two echoing peers would otherwise talk forever.
        if self.echo and not text.startswith(ECHO_PREFIX) and channel.readyState == "open":
            channel.send((ECHO_PREFIX + text)[:MAX_MESSAGE_CHARS])

    async def on_typed(self, line):
        text = line.rstrip("\r\n")
        if not text.strip():
            return
        if len(text) > MAX_MESSAGE_CHARS:
            say(f"* Messages are limited to {MAX_MESSAGE_CHARS} characters; not sent.")
            return
        if self.step == 3 and text.startswith("@"):
            await self.send_private(text)
            return
        if self.step == 8 and text.startswith("/send "):
            for member in self.members.values():
                if member.files and member.files.open():
                    member.files.start_sending(text[6:].strip())
            return
        channels = self.open_channels()
        for channel in channels:
            channel.send(text)
        if not channels:
            say("* Nobody to send to yet: no chat channel is open.")

    def open_channels(self):
        return [
            m.channel
            for m in self.members.values()
            if m.channel is not None and m.channel.readyState == "open"
        ]

    # Step 3: "@Name text" opens a private chat the way a click on the name does.
    async def send_private(self, text):
        member = self.addressee(text[1:])
        if member is None:
            here = ", ".join(shown(m.name) for m in self.members.values()) or "nobody else"
            say(f"* No one by that name here. Here: {here}.")
            return
        body = text[1 + len(member.name) :].strip()
        if body:
            member.outbox.append(body)
        if member.connection is None:
            member.connection = self.create_connection(member)
            say(f"* Opening a chat with {shown(member.name)}: offer sent.")
            await self.make_offer(member)
        elif member.channel is not None and member.channel.readyState == "open":
            self.send_outbox(member)

    def addressee(self, text):
        """The member whose name `text` starts with (names are unique ignoring case)."""
        matches = [
            m
            for m in self.members.values()
            if text.casefold().startswith(m.name.casefold())
            and text[len(m.name) : len(m.name) + 1] in ("", " ")
        ]
        return max(matches, key=lambda m: len(m.name), default=None)


def is_connected(member):
    return member.connection is not None and member.connection.connectionState == "connected"


def candidate_from_browser(data):
    """A browser's RTCIceCandidate, as JSON, in aiortc's form; None for the end of candidates."""
    line = data.get("candidate", "")
    if not line:
        return None
    candidate = candidate_from_sdp(line.removeprefix("candidate:"))
    candidate.sdpMid = data.get("sdpMid")
    candidate.sdpMLineIndex = data.get("sdpMLineIndex")
    return candidate


def read_stdin(loop, peer):
    """Hands each line typed on stdin to the peer; at the end of input, stops it. Runs on its own
    thread, reading the file descriptor directly: the interpreter's buffered stdin is not safe
    to leave blocked in a thread at exit."""

    def hand_over(*call):
        with contextlib.suppress(RuntimeError):  # the loop has ended: nobody listens any more
            loop.call_soon_threadsafe(*call)

    pending = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(sys.stdin.fileno(), 4096):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                hand_over(peer.post, peer.on_typed, line.decode(errors="replace"))
    if pending:
        hand_over(peer.post, peer.on_typed, pending.decode(errors="replace"))
    hand_over(peer.stop)


def stop_on_signals(loop, peer):
    """Ctrl+C (or SIGTERM) leaves the room cleanly; a second Ctrl+C quits at once."""
    interrupted = []

    def on_signal():
        if interrupted:
            os._exit(130)
        interrupted.append(True)
        say("* Leaving... (Ctrl+C again to quit at once)")
        peer.stop()

    for number in (signal.SIGINT, signal.SIGTERM):
        # On Windows there are no loop signal handlers: Ctrl+C raises KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(number, on_signal)


async def run(args):
    loop = asyncio.get_running_loop()
    signaling = Signaling(loop, verify=not args.insecure)
    peer = ChatPeer(signaling, args.step, args.name, args.echo, args.send, args.save_dir)
    try:
        await signaling.connect(args.url)
    except Exception as error:
        say(f"! Cannot reach the signaling server at {args.url}: {error}")
        say(f"  Is it running? Start it with: STEP={args.step} make run")
        if args.url.startswith("https:") and not args.insecure:
            say("  A self-signed certificate (HTTPS=1 make run)? Add --insecure to accept it.")
        return 1
    say(f"* Connected to the signaling server at {args.url}.")
    try:
        await peer.join(args.room)
    except SignalingError as error:
        say(f"! Could not join room {args.room}: {error} ({error.code})")
        signaling.close()
        return 1
    stop_on_signals(loop, peer)
    threading.Thread(target=read_stdin, args=(loop, peer), daemon=True).start()
    if args.echo:
        say("* Echo is on: every message you receive is answered with 'echo: <message>'.")
    try:
        await peer.run()
    finally:
        await peer.leave()
        signaling.close()
    return 0


def random_name():
    return f"py-{random.choice(ANIMALS)}-{random.randint(10, 99)}"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m common.peer",
        description="Join a room of steps 2-4 or 8 from the command line, as one more WebRTC peer.",
    )
    parser.add_argument(
        "--step",
        type=int,
        choices=sorted(STEPS),
        default=int(os.environ["STEP"]) if os.environ.get("STEP") in ("2", "3", "4", "8") else 4,
        help="the step the server runs (default: $STEP if it is 2-4 or 8, else 4)",
    )
    parser.add_argument("--room", default="demo", help="the room to join (default: demo)")
    parser.add_argument(
        "--url", default="http://127.0.0.1:8080", help="the server (default: %(default)s)"
    )
    parser.add_argument(
        "--name", default=random_name(), help="your name (default: py-<animal>-<n>)"
    )
    parser.add_argument(
        "--echo", action="store_true", help="answer every message with 'echo: <message>'"
    )
    parser.add_argument(
        "--send",
        action="append",
        default=[],
        metavar="FILE",
        help="step 8: send FILE to each member once connected (repeatable; or type /send FILE)",
    )
    parser.add_argument(
        "--save-dir",
        metavar="DIR",
        help="step 8: keep the files received in DIR (by default they are checked, not kept)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="accept the server's self-signed certificate (HTTPS=1 make run)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        sys.exit(asyncio.run(run(args)))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
