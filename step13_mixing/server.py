"""Step 13: the server combines. It is step 6's server (step6_server_peer/server.py: the same
signaling, the same `offer` event, one connection per member), with a server peer that decodes
what the members send instead of forwarding it (mixer.py composes and mixes):

- each page offers its camera and microphone on ONE video and ONE audio transceiver, send and
  receive; the server answers with the room's picture on the video one and, on the audio one, the
  room's sound without the member's own voice. No slots: a page receives one video and one sound
  whatever the size of the room, and nothing is renegotiated when someone comes or goes.
- the data channel `chat` carries step 6's messages (chat, state: the server draws "muted" and
  "camera off" into the captions) and one more: `{"type": "effect", "effect": "edges"|"none"}`
  turns an effect of the composed picture on or off for the whole room; the server tells the
  others, `{"type": "effect", "effect", "from": {"id", "name"}}`, and the sender, and a newcomer
  when its channel opens, the same without `from`.

Room cap: 10 (MAX_ROOM_SIZE overrides it), as in step 6. What it costs the server is measured
against step 6 in docs/server-peer-vs-mesh.md.
"""

import logging
from pathlib import Path

from step6_server_peer import server as step6
from step6_server_peer.media import Slot
from step6_server_peer.server_peer import ServerPeer
from step13_mixing.mixer import EFFECTS, RoomMix

ROOM_CAPACITY = step6.ROOM_CAPACITY
OPEN_HINT = step6.OPEN_HINT

log = logging.getLogger("mixing")


def create():
    return step6.create(Path(__file__).parent, MixingServerPeer)


class MixingServerPeer(ServerPeer):
    """Step 6's server peer, with everything media goes through in a `RoomMix` per room."""

    def __init__(self, still_joined):
        super().__init__(still_joined)
        self.mixes = {}  # room name -> RoomMix

    def on_track(self, guest, track):
        # Not handed over to forwarding: aiortc decodes it, in a thread of its own.
        guest.published.setdefault(track.kind, track)

    def open_slots(self, guest):
        """The page's first video and first audio transceiver carry what the room makes for it,
        as a step 6 slot does (a `Slot` never ends, so it can show the mix from the first
        picture on); any more transceivers stay inactive."""
        for transceiver in guest.pc.getTransceivers():
            if any(slot.kind == transceiver.kind for slot in guest.slots):
                continue
            slot = Slot(transceiver.kind, transceiver.mid, transceiver.sender)
            transceiver.sender.replaceTrack(slot)
            transceiver.direction = "sendrecv"  # answered sendonly if the page sends nothing
            guest.slots.append(slot)

    def welcome(self, guest, room):
        mix = self.mixes.get(guest.member.room)
        if mix is None:
            mix = self.mixes[guest.member.room] = RoomMix(guest.member.room)
            mix.start()
        feed = mix.add(guest)
        for slot in guest.slots:
            slot.show(mix.picture if slot.kind == "video" else feed.hears, guest.member)

    def farewell(self, guest, room):
        mix = self.mixes.get(guest.member.room)
        if mix is None:
            return
        mix.remove(guest.member.id)
        if not room:
            del self.mixes[guest.member.room]
            self.spawn(mix.stop())

    def on_channel(self, guest, channel):
        super().on_channel(guest, channel)
        mix = self.mixes.get(guest.member.room)
        if guest.channel is channel and mix is not None:
            guest.send({"type": "effect", "effect": mix.effect})

    def on_data(self, guest, data):
        if data.get("type") != "effect":
            super().on_data(guest, data)  # chat, and state (the captions read guest.state)
            return
        effect = data.get("effect")
        if effect not in EFFECTS:
            guest.send({"type": "error", "message": f"effect is one of {', '.join(EFFECTS)}"})
            return
        if not guest.chat_bucket.take():
            guest.send({"type": "error", "message": "too many messages; slow down"})
            return
        self.mixes[guest.member.room].effect = effect
        log.info("room %s: effect %s, from %s", guest.member.room, effect, guest.member.name)
        guest.send({"type": "effect", "effect": effect})
        news = {"type": "effect", "effect": effect, "from": guest.sender()}
        for other in self.rooms.get(guest.member.room, {}).values():
            if other is not guest:
                other.send(news)
