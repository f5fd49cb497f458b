"""Step 10's recordings: what a file holds for the time recorded, and what recording costs the
server. Two Chromium pages in a step 10 room, in a call through the server peer; for each run,
--seconds of the call without recording, then --seconds recorded. The files are decoded with PyAV:
video frames (and the frame rate they make), seconds of sound, against the seconds the server
says it recorded. The server's CPU is read from /proc over both periods.

    .venv/bin/python -m bench.recording --runs 3 --seconds 10

Writes bench/results/recording.json.
"""

import argparse
import logging
import statistics
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import av
from playwright.sync_api import sync_playwright

from bench import shared
from tests import browsers
from tests.conftest import COUNT_PEER_CONNECTIONS, MEDIA_PROBES
from tests.server import Server

VIDEO_FROM = "async (name) => (await framesDecodedFrom(name)) > 5"


def call(browser, server):
    room, pages = f"bench-{uuid.uuid4().hex[:10]}", []
    for name in ("Ann", "Bob"):
        context = browser.new_context()
        for script in (COUNT_PEER_CONNECTIONS, MEDIA_PROBES):
            context.add_init_script(script)
        page = context.new_page()
        page.goto(f"{server.url}/?room={room}")
        page.wait_for_selector("#signaling-state:text('connected')")
        page.fill("#name", name)
        page.click("#join")
        pages.append(page)
    for page, other in zip(pages, ("Bob", "Ann"), strict=True):
        page.wait_for_function(VIDEO_FROM, arg=other, polling=100, timeout=60_000)
    return pages


def cpu_share(pid, seconds):
    before = shared.cpu_seconds(pid)
    time.sleep(seconds)  # a benchmark's measuring period, not a wait for a condition
    return (shared.cpu_seconds(pid) - before) / seconds


def decoded(url, folder):
    path = folder / url.rsplit("/", 1)[1]
    with urllib.request.urlopen(url, timeout=10) as response:
        path.write_bytes(response.read())
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        sound = sum(f.samples / f.sample_rate for f in container.decode(audio=0))
    return {"frames": frames, "sound_s": round(sound, 2), "mib": path.stat().st_size / 2**20}


def one_run(browser, server, seconds, folder):
    ann, bob = call(browser, server)
    idle = cpu_share(server.process.pid, seconds)
    ann.click("#record")
    ann.wait_for_selector("#record:text('Stop recording')")
    recording = cpu_share(server.process.pid, seconds)
    ann.click("#record")
    links = ann.locator("#recordings li")
    links.nth(1).wait_for()
    files = []
    for item in links.all():
        recorded = float(item.text_content().rsplit("(", 1)[1].split()[0])
        href = item.locator("a").get_attribute("href")
        files.append({"seconds": recorded, **decoded(server.url + href, folder)})
    for page in (ann, bob):
        page.context.close()
    return {"cpu_call": round(idle, 3), "cpu_recording": round(recording, 3), "files": files}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = browsers.find("chromium")
    data = {"machine": shared.machine(), "seconds": args.seconds, "runs": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        folder = Path(tmp)
        server = Server(10, folder, RECORDINGS_DIR=folder / "recordings")
        browser = playwright.chromium.launch(**browsers.launch_options("chromium", path))
        for _ in range(args.runs):
            run = one_run(browser, server, args.seconds, folder)
            data["runs"].append(run)
            logging.info("%s", run)
        server.stop()
    files = [f for run in data["runs"] for f in run["files"]]
    data["medians"] = {
        "fps": round(statistics.median(f["frames"] / f["seconds"] for f in files), 1),
        "sound_share": round(statistics.median(f["sound_s"] / f["seconds"] for f in files), 2),
        "cpu_call": statistics.median(r["cpu_call"] for r in data["runs"]),
        "cpu_recording": statistics.median(r["cpu_recording"] for r in data["runs"]),
    }
    shared.save("recording", data)


if __name__ == "__main__":
    main()
