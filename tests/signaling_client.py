"""A plain python-socketio client for the signaling contract: an independent second implementation
of the browser side, used to check every rule of docs/signaling-contract.md against the real
server."""

import queue
import threading

import socketio

TIMEOUT = 5


class Member:
    """One socket.io connection; events it receives wait in a queue until a test asks for them."""

    def __init__(self, url):
        self.sio = socketio.Client(reconnection=False)
        # python-engineio's client hands each incoming message to a thread of its own
        # (engineio/client.py: _trigger_event(..., run_async=True)), so on a loaded machine two
        # events could reach the queue in the wrong order, and the contract promises their order.
        # Handle each message on the reading thread instead: the handlers here only queue it.
        trigger = self.sio.eio._trigger_event
        self.sio.eio._trigger_event = lambda event, *args, **kwargs: trigger(
            event, *args, **{**kwargs, "run_async": False}
        )
        self.received = queue.Queue()
        self.sio.on("*", lambda event, data=None: self.received.put((event, data)))
        self.sio.connect(url, transports=["websocket"], wait_timeout=TIMEOUT)
        self.id = None

    def call(self, event, data=None):
        return self.sio.call(event, data, timeout=TIMEOUT)

    def emit_raw(self, event, *args):
        """Emits with any number of arguments and returns the ack, to test malformed events."""
        acks = queue.Queue()
        self.sio.emit(event, args, callback=lambda *a: acks.put(a))
        (ack,) = acks.get(timeout=TIMEOUT)
        return ack

    def join(self, room, name):
        ack = self.call("join", {"room": room, "name": name})
        assert ack["ok"], ack
        self.id = ack["id"]
        return ack

    def signal(self, to, data):
        return self.call("signal", {"to": to, "data": data})

    def next_event(self, timeout=TIMEOUT):
        """The next event received, as (name, payload); fails the test if none comes in time."""
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None

    def close(self):
        """Disconnects without waiting: the client library lingers up to 3 s for the closing
        handshake, while the server sees the close frame at once."""
        threading.Thread(target=self.sio.disconnect, daemon=True).start()
