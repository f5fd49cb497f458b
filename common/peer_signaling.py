"""The signaling contract (docs/signaling-contract.md) for asyncio code: the Python twin of
common/static/signaling.js, used by the command-line peer (common/peer.py).

Plumbing, not the lesson. python-socketio's synchronous client runs its own threads; aiortc runs
on an asyncio loop. This class sits between them: requests become awaitables that resolve to the
acknowledgement, and every event from the server is handed to the loop, in the order the server
sent it.
"""

import asyncio
import contextlib
import threading

import engineio
import socketio

TIMEOUT = 10  # seconds to wait for an acknowledgement, as in signaling.js


class SignalingError(Exception):
    """The server refused a request; `code` is one of the contract's error codes."""

    def __init__(self, error):
        super().__init__(error.get("message", "refused"))
        self.code = error.get("code")


class InOrderEngineIOClient(engineio.Client):
    """engine.io's client hands each incoming message to a new thread, so two events sent in
    order (an offer, then its candidates) could be handled out of order. Our handlers only pass
    the event on to the asyncio loop, which never blocks, so they run on the reading thread, one
    after the other."""

    def _trigger_event(self, event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    def _engineio_client_class(self):
        return InOrderEngineIOClient


class Signaling:
    """connect(url), then join(room, name) -> ack, send(to, data), leave(), close().

    on(event, handler) registers a plain function for 'peer-joined', 'peer-left', 'signal', and
    socket.io's 'connect' and 'disconnect'; it runs on the asyncio loop with the event's payload.
    After a 'disconnect', `reconnecting(reason)` says whether the client tries to connect again
    (as the browser's socket.io client does, unless the connection was closed on purpose); a
    'connect' follows when it succeeds. The server then no longer knows us: join again.
    """

    def __init__(self, loop, verify=True):
        self.loop = loop
        # handle_sigint=False: Ctrl+C is the peer's to handle. verify=False accepts a
        # self-signed certificate (HTTPS=1 make run).
        self.sio = InOrderClient(handle_sigint=False, ssl_verify=verify)

    @property
    def connected(self):
        return self.sio.connected

    @staticmethod
    def reconnecting(reason):
        return reason not in (
            socketio.Client.reason.CLIENT_DISCONNECT,
            socketio.Client.reason.SERVER_DISCONNECT,
        )

    def on(self, event, handler):
        def hand_over(data=None):
            # A late 'disconnect' can come after the loop has ended: nobody listens any more.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(handler, data)

        self.sio.on(event, hand_over)

    async def connect(self, url):
        # Only the websocket transport: no HTTP long-polling first, one connection throughout.
        await asyncio.to_thread(
            self.sio.connect, url, transports=["websocket"], wait_timeout=TIMEOUT
        )

    async def join(self, room, name):
        return await self.request("join", {"room": room, "name": name})

    async def send(self, to, data):
        return await self.request("signal", {"to": to, "data": data})

    async def leave(self):
        return await self.request("leave")

    async def request(self, event, payload=None):
        """Emits `event` and waits for its acknowledgement; raises SignalingError if refused."""
        acked = self.loop.create_future()

        def on_ack(ack=None):
            with contextlib.suppress(RuntimeError):  # an ack after the loop ended
                self.loop.call_soon_threadsafe(settle, ack)

        def settle(ack):
            if not acked.done():
                acked.set_result(ack)

        self.sio.emit(event, payload, callback=on_ack)
        ack = await asyncio.wait_for(acked, TIMEOUT)
        if not isinstance(ack, dict) or not ack.get("ok"):
            raise SignalingError((ack or {}).get("error", {}))
        return ack

    def close(self, wait=1.0):
        """Disconnects, or stops trying to reconnect. The client library can linger seconds
        over the closing handshake, while the server sees the close at once, so this waits at
        most `wait` seconds."""
        closer = threading.Thread(target=self.sio.shutdown, daemon=True)
        closer.start()
        closer.join(wait)
