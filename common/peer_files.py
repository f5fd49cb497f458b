"""Step 8's file protocol for the command-line peer (common/peer.py): the Python twin of the
file transfer in step8_file_transfer/main.js, on the same negotiated 'files' channel (id 1).

    STEP=8 make peer ARGS='--room demo --send photo.jpg --save-dir received'

The protocol: {type: 'file', id, name, size}, the bytes in binary chunks, then
{type: 'end', id, sha256}; the receiver answers {type: 'received', id, sha256}; either side may
send {type: 'cancel', id}. The sender keeps at most HIGH_WATER_BYTES waiting in the channel, as the
page does. Files received are saved only with --save-dir, under their own name made safe (no
folders, no hidden files, never over an existing file), and hashed as they arrive.
"""

import asyncio
import contextlib
import hashlib
import json
import re
import uuid
from pathlib import Path

CHUNK_BYTES = 64 * 1024  # as the page: within every browser's and aiortc's max message size
HIGH_WATER_BYTES = 1024 * 1024
LOW_WATER_BYTES = 256 * 1024
MAX_NAME_CHARS = 255


class Files:
    """The files channel to one member: what we send them, and what they send us."""

    def __init__(self, channel, their_name, save_dir, say):
        self.channel = channel
        self.their_name = their_name
        self.save_dir = Path(save_dir) if save_dir else None
        self.say = say
        self.incoming = None  # the file coming in: {id, name, size, received, hash, file, path}
        self.outgoing = None  # the file going out: {id, name, done (a future)}
        self.queue = asyncio.Lock()  # one file out at a time, in the order asked
        self.drained = asyncio.Event()
        self.tasks = set()  # what runs in the background: files going out, replies
        channel.bufferedAmountLowThreshold = LOW_WATER_BYTES
        channel.on("bufferedamountlow", self.drained.set)
        channel.on("message", self.on_message)
        channel.on("close", self.drained.set)

    def spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)  # held until done, so the loop cannot drop it half way
        task.add_done_callback(self.tasks.discard)

    # Sending

    def start_sending(self, path):
        """Sends the file at `path` once the files before it are sent."""
        self.spawn(self.send_file(path))

    async def send_file(self, path):
        path = Path(path)
        async with self.queue:
            try:
                await self.send_one(path)
            except (OSError, ConnectionError) as error:
                self.say(f"! Could not send {path.name}: {error}")
            self.outgoing = None

    async def send_one(self, path):
        size = path.stat().st_size
        transfer = {"id": uuid.uuid4().hex, "name": path.name}  # random, as the page's
        transfer["done"] = asyncio.get_running_loop().create_future()
        self.outgoing = transfer
        header = {"type": "file", "id": transfer["id"], "name": path.name, "size": size}
        await self.send(json.dumps(header))
        self.say(f"* Sending {path.name} ({size} bytes) to {self.their_name}...")
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while not transfer["done"].done() and (chunk := file.read(CHUNK_BYTES)):
                digest.update(chunk)
                await self.send(chunk)
        if transfer["done"].done():
            return  # they cancelled
        transfer["sha256"] = digest.hexdigest()
        await self.send(
            json.dumps({"type": "end", "id": transfer["id"], "sha256": digest.hexdigest()})
        )
        theirs = await transfer["done"]
        if theirs is None:
            return
        verdict = "matches" if theirs == transfer["sha256"] else f"does not match ({theirs})"
        self.say(
            f"* Sent {path.name} to {self.their_name}: SHA-256 {transfer['sha256']}; "
            f"{self.their_name}'s copy {verdict}."
        )

    async def send(self, data):
        """Sends once the channel has room: never more than HIGH_WATER_BYTES waiting in it."""
        size = len(data.encode()) if isinstance(data, str) else len(data)
        while self.open() and self.channel.bufferedAmount + size > HIGH_WATER_BYTES:
            self.drained.clear()
            await self.drained.wait()
        if not self.open():
            raise ConnectionError(f"the files channel to {self.their_name} is closed")
        self.channel.send(data)

    def open(self):
        return self.channel.readyState == "open"

    # Receiving

    def on_message(self, data):
        if isinstance(data, bytes):
            self.on_chunk(data)
            return
        try:
            message = json.loads(data)
        except ValueError:
            return  # not our protocol
        handler = {
            "file": self.on_file,
            "end": self.on_end,
            "received": self.on_received,
            "cancel": self.on_cancel,
        }.get(message.get("type") if isinstance(message, dict) else None)
        if handler:
            handler(message)

    def on_file(self, message):
        name, size = message.get("name"), message.get("size")
        if self.incoming or not isinstance(name, str) or not isinstance(size, int) or size < 0:
            return
        incoming = {"id": message.get("id"), "name": name[:MAX_NAME_CHARS], "size": size}
        incoming.update(received=0, hash=hashlib.sha256(), file=None, path=None)
        if self.save_dir:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            incoming["path"] = free_path(self.save_dir, safe_name(incoming["name"]))
            incoming["file"] = (
                incoming["path"].with_name(incoming["path"].name + ".part").open("wb")
            )
        self.incoming = incoming
        self.say(f"* Receiving {shown(incoming['name'])} ({size} bytes) from {self.their_name}...")

    def on_chunk(self, chunk):
        incoming = self.incoming
        if incoming is None:
            return  # the rest of a file cancelled a moment ago
        incoming["received"] += len(chunk)
        if incoming["received"] > incoming["size"]:
            self.say(f"! {self.their_name} sent more than the size announced: cancelled.")
            self.cancel_incoming()
            return
        incoming["hash"].update(chunk)
        if incoming["file"]:
            incoming["file"].write(chunk)

    def on_end(self, message):
        incoming = self.incoming
        if incoming is None or incoming["id"] != message.get("id"):
            return
        self.incoming = None
        ours = incoming["hash"].hexdigest()
        theirs = message.get("sha256")
        saved = "not saved (add --save-dir DIR to keep files)"
        if incoming["file"]:
            incoming["file"].close()
            part = incoming["path"].with_name(incoming["path"].name + ".part")
            if ours == theirs and incoming["received"] == incoming["size"]:
                part.rename(incoming["path"])
                saved = f"saved as {incoming['path']}"
            else:
                part.unlink()
                saved = "not saved"
        verdict = (
            "matches theirs" if ours == theirs else f"does not match theirs ({shown(str(theirs))})"
        )
        if incoming["received"] != incoming["size"]:
            verdict = (
                f"is of an incomplete file ({incoming['received']} of {incoming['size']} bytes)"
            )
        self.say(
            f"* Received {shown(incoming['name'])} from {self.their_name}: SHA-256 {ours}, "
            f"which {verdict}; {saved}."
        )
        self.spawn(self.reply({"type": "received", "id": incoming["id"], "sha256": ours}))

    def on_received(self, message):
        outgoing = self.outgoing
        if outgoing and outgoing["id"] == message.get("id") and not outgoing["done"].done():
            outgoing["done"].set_result(str(message.get("sha256")))

    def on_cancel(self, message):
        outgoing, incoming = self.outgoing, self.incoming
        if outgoing and outgoing["id"] == message.get("id") and not outgoing["done"].done():
            outgoing["done"].set_result(None)
            self.say(f"* {self.their_name} cancelled {outgoing['name']}.")
        elif incoming and incoming["id"] == message.get("id"):
            self.say(f"* {self.their_name} cancelled {shown(incoming['name'])}.")
            self.drop_incoming()

    def cancel_incoming(self):
        message = {"type": "cancel", "id": self.incoming["id"]}
        self.drop_incoming()
        self.spawn(self.reply(message))

    def drop_incoming(self):
        incoming, self.incoming = self.incoming, None
        if incoming["file"]:
            incoming["file"].close()
            incoming["path"].with_name(incoming["path"].name + ".part").unlink(missing_ok=True)

    async def reply(self, message):
        with contextlib.suppress(ConnectionError):  # the channel is gone: nobody to tell
            await self.send(json.dumps(message))

    def close(self):
        if self.incoming:
            self.drop_incoming()
        if self.outgoing and not self.outgoing["done"].done():
            self.outgoing["done"].set_result(None)


def shown(text):
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def safe_name(name):
    """A file name from another peer, as it is safe to create: no folders, no leading dot, only
    ordinary characters."""
    name = re.sub(r"[^\w.\- ]", "_", name.replace("\\", "/").split("/")[-1]).strip(" .")
    return name or "file"


def free_path(folder, name):
    """folder/name, or folder/name (2), (3)... if that file exists already."""
    path, stem, suffix, n = folder / name, Path(name).stem, Path(name).suffix, 2
    while path.exists() or path.with_name(path.name + ".part").exists():
        path, n = folder / f"{stem} ({n}){suffix}", n + 1
    return path
