"""Test instrumentation for step 15's "the server cannot see" test: with FRAME_TAP_DIR set, a
server keeps a copy of every VP8 frame its server peer forwards, as it hands it to aiortc's
packetizer (`Vp8Encoder.pack`, which a forwarding sender calls with the encoded frame instead of
encoding one), one file per frame: `<sender>-<number>.vp8`. Nothing is changed in what is sent."""

import itertools
import os
from pathlib import Path


def install():
    folder = os.environ.get("FRAME_TAP_DIR")
    if not folder:
        return
    from aiortc.codecs import vpx

    numbers = itertools.count()
    pack = vpx.Vp8Encoder.pack

    def tapped(self, packet):
        (Path(folder) / f"{id(self)}-{next(numbers):06d}.vp8").write_bytes(bytes(packet))
        return pack(self, packet)

    vpx.Vp8Encoder.pack = tapped
