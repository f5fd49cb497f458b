"""Debian's simple-whip-client (`whip-client`, Meetecho's GStreamer WHIP client) publishing test
pictures and a test tone: a WHIP client that nobody in this project wrote.

Debian 12's package aborts at start ("libsoup2 symbols detected") unless a stand-in for
libgupnp-igd is loaded first (tests/gupnp_igd_stand_in.c says why); it is built here with gcc.
Its exit code is 0 even when the server refused it, so a test reads the server or `log()`.
"""

import os
import shutil
import signal
import subprocess
from pathlib import Path

HOW_TO_GET_ONE = "simple-whip-client is not installed: apt-get install simple-whip-client gcc"
STAND_IN = Path(__file__).parent / "gupnp_igd_stand_in.c"
GOBJECT = "libgobject-2.0.so.0"
# VP8 and Opus from GStreamer's test sources (a bouncing ball and a tone), as the server forwards.
VIDEO = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! "
    "videoconvert ! queue ! vp8enc deadline=1 ! rtpvp8pay pt=96 ssrc=2 ! queue ! "
    "application/x-rtp,media=video,encoding-name=VP8,payload=96"
)
AUDIO = (
    "audiotestsrc is-live=true ! audioconvert ! audioresample ! queue ! opusenc ! "
    "rtpopuspay pt=111 ssrc=1 ! queue ! "
    "application/x-rtp,media=audio,encoding-name=OPUS,payload=111"
)


def build_stand_in(folder):
    """libgupnp-igd-1.0.so.4 in `folder`, from STAND_IN; the folder, for LD_LIBRARY_PATH."""
    gobject = next(
        (
            p
            for d in (
                "/usr/lib/x86_64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu",
                "/usr/lib64",
                "/usr/lib",
            )
            if (p := Path(d) / GOBJECT).exists()
        ),
        GOBJECT,
    )
    library = Path(folder) / "libgupnp-igd-1.0.so.4"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(library), str(STAND_IN), str(gobject)], check=True
    )
    return folder


class WhipClient:
    """`whip-client` publishing to `url` with `token` until stop() (SIGTERM: it sends DELETE)."""

    def __init__(self, url, token, folder):
        self.log_path = Path(folder) / "whip-client.log"
        env = {**os.environ, "LD_LIBRARY_PATH": str(build_stand_in(folder))}
        command = ["whip-client", "-n", "-o", "-u", url, "-t", token, "-V", VIDEO, "-A", AUDIO]
        self.log_file = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log_file, stderr=subprocess.STDOUT
        )

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log_file.close()


def available():
    return shutil.which("whip-client") is not None and shutil.which("gcc") is not None
