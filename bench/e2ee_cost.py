"""What end-to-end encryption costs the browsers (step 15 against step 6, on demand). Four pages
in one room, each in a browser context of its own in one browser, in a call through the server
peer: step 6's (frames forwarded as they are) and step 15's (every frame encrypted by its sender's
page and decrypted by each receiving page), run back to back, alternating which goes first, in
Chromium and then in Firefox. Once everyone decodes everyone, over --seconds: the browser's CPU
(all its processes; 100 % = one core), the frames each page decodes per second from each other
page, and the frames the pages hand to their encoders and decoders (video frames encoded and
decoded, audio packets sent and received: one Opus frame each). The CPU step 15 adds, divided by
the frames its pages encrypt and decrypt each second, is the cost of one frame through the
worker.

    .venv/bin/python -m bench.e2ee_cost --runs 3 --seconds 15

Writes bench/results/e2ee_cost.json; `python -m bench.report` puts it in docs/benchmarks.md.
"""

import argparse
import logging
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench import shared
from tests import browsers
from tests.conftest import COUNT_PEER_CONNECTIONS, MEDIA_PROBES
from tests.server import Server

NAMES = ("Ann", "Bob", "Cat", "Dan")
# Frames that went through the page's encoders and decoders so far (its one connection).
FRAMES = """async () => {
  const counted = {
    'outbound-rtp video': 'framesEncoded', 'inbound-rtp video': 'framesDecoded',
    'outbound-rtp audio': 'packetsSent', 'inbound-rtp audio': 'packetsReceived',
  };
  const totals = Object.fromEntries(Object.keys(counted).map((key) => [key, 0]));
  for (const report of (await openPeerConnections()[0].getStats()).values()) {
    const key = `${report.type} ${report.kind}`;
    if (key in counted) totals[key] += report[counted[key]] ?? 0;
  }
  return totals;
}"""
SEES_EVERYONE = """async (others) => {
  for (const name of others) if ((await framesDecodedFrom(name)) < 5) return false;
  return true;
}"""


def browser_cpu_seconds():
    return sum(shared.cpu_seconds(pid) for pid in shared.browser_pids(os.getpid()))


def room(browser, server):
    url = f"{server.url}/?room=bench-{uuid.uuid4().hex[:10]}#key=bench-passphrase"
    pages = []
    for name in NAMES:
        context = browser.new_context()
        for script in (COUNT_PEER_CONNECTIONS, MEDIA_PROBES):
            context.add_init_script(script)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_selector("#signaling-state:text('connected')")
        page.fill("#name", name)
        page.click("#join")
        pages.append(page)
    for page, name in zip(pages, NAMES, strict=True):
        others = [other for other in NAMES if other != name]
        deadline = time.monotonic() + 60
        while not page.evaluate(SEES_EVERYONE, others):  # each poll is a getStats() round
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} does not see everyone after 60 s")
    return pages


def decoded_from(page, name):
    others = [other for other in NAMES if other != name]
    return {other: page.evaluate("(n) => framesDecodedFrom(n)", other) for other in others}


def one_run(browser, server, seconds):
    pages = room(browser, server)
    load_before = shared.load_average()
    frames_before = [page.evaluate(FRAMES) for page in pages]
    seen_before = [decoded_from(page, name) for page, name in zip(pages, NAMES, strict=True)]
    cpu_before, started = browser_cpu_seconds(), time.monotonic()
    time.sleep(seconds)  # the measuring period, not a wait for a condition
    cpu, elapsed = browser_cpu_seconds() - cpu_before, time.monotonic() - started
    frames_after = [page.evaluate(FRAMES) for page in pages]
    seen_after = [decoded_from(page, name) for page, name in zip(pages, NAMES, strict=True)]
    fps = [
        (after[other] - before[other]) / elapsed
        for before, after in zip(seen_before, seen_after, strict=True)
        for other in before
    ]
    rates = {
        key: sum(a[key] - b[key] for a, b in zip(frames_after, frames_before, strict=True))
        / elapsed
        for key in frames_before[0]
    }
    for page in pages:
        page.context.close()
    return {
        "cpu": round(cpu / elapsed, 3),
        "fps_median": round(statistics.median(fps), 1),
        "fps_min": round(min(fps), 1),
        # Through the worker in step 15: what the senders encode and what the receivers decode.
        "frames_per_s": round(sum(rates.values()), 1),
        "load": [load_before, shared.load_average()],
    }


def measure(playwright, name, options, servers, runs, seconds):
    browser = getattr(playwright, name).launch(**options)
    results = {6: [], 15: []}
    for run in range(runs):
        order = (6, 15) if run % 2 == 0 else (15, 6)
        for step in order:
            result = one_run(browser, servers[step], seconds)
            results[step].append(result)
            logging.info("%s, step %s, run %s: %s", name, step, run + 1, result)
    browser.close()
    pairs = list(zip(results[6], results[15], strict=True))
    extra = [b["cpu"] - a["cpu"] for a, b in pairs]
    per_frame_ms = [
        1000 * (b["cpu"] - a["cpu"]) / b["frames_per_s"] for a, b in pairs if b["frames_per_s"]
    ]
    return {
        "runs": results,
        "cpu_ratio_median": round(statistics.median(b["cpu"] / a["cpu"] for a, b in pairs), 2),
        "extra_cpu_median": round(statistics.median(extra), 3),
        "ms_per_frame_median": round(statistics.median(per_frame_ms), 3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--browsers", nargs="+", default=["chromium", "firefox"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = {"machine": shared.machine(), "seconds": args.seconds, "pages": len(NAMES)}
    # Found before Playwright starts: looking up its own Chromium starts a Playwright of its own.
    options = {name: browsers.launch_options(name, browsers.find(name)) for name in args.browsers}
    with tempfile.TemporaryDirectory() as logs, sync_playwright() as playwright:
        servers = {step: Server(step, Path(logs), MAX_ROOM_SIZE=len(NAMES)) for step in (6, 15)}
        try:
            for name in args.browsers:
                data[name] = measure(
                    playwright, name, options[name], servers, args.runs, args.seconds
                )
        finally:
            for server in servers.values():
                server.stop()
    data["load_after"] = shared.load_average()
    shared.save("e2ee_cost", data)


if __name__ == "__main__":
    main()
