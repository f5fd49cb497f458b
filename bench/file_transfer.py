"""Step 8's file transfer, browser to browser on this machine: MiB/s for each pair of browsers.

Two pages join a step 8 room; the sender's page makes a file of --mib MiB and sends it. Timed in
the pages, by the same clock: from the click on Send to the last byte in the receiver's progress
bar ("bytes"), and to both SHA-256 hashes compared ("checked"). A probe records the most that
waited in the sender's channel buffer. --runs runs per pair, the pairs alternated.

    .venv/bin/python -m bench.file_transfer --runs 3

Writes bench/results/file_transfer.json.
"""

import argparse
import logging
import statistics
import tempfile
import uuid
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench import shared
from tests import browsers
from tests.server import Server
from tests.test_step8_file_transfer import BIG_FILE, RECORD_BUFFERED

PAIRS = [("chromium", "chromium"), ("firefox", "firefox"), ("chromium", "firefox")]
PAIRS.append(("firefox", "chromium"))
DONE = "(name) => document.querySelector(`#transfers li[data-name='${name}']`)"
BYTES_IN = DONE + "?.querySelector('progress').value === {size} && Date.now()"
CHECKED = DONE + "?.textContent.includes('matches') && Date.now()"


def page_in(browser, server, room, name):
    context = browser.new_context()
    context.add_init_script(RECORD_BUFFERED)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{server.url}/?room={room}")
    page.wait_for_function("document.querySelector('#signaling-state').textContent == 'connected'")
    page.fill("#name", name)
    page.click("#join")
    return page


def one_run(launched, server, pair, size):
    room = f"bench-{uuid.uuid4().hex[:10]}"
    sender, receiver = (
        page_in(launched[b], server, room, n) for b, n in zip(pair, "AB", strict=True)
    )
    for page in (sender, receiver):
        page.wait_for_selector("#send-files:enabled")
    sender.evaluate(BIG_FILE, ["bench.bin", size])
    start = sender.evaluate(
        "() => { document.querySelector('#send-files').click(); return Date.now(); }"
    )
    ends = [
        receiver.wait_for_function(f"() => ({condition})('bench.bin')", polling=10).json_value()
        for condition in (BYTES_IN.replace("{size}", str(size)), CHECKED)
    ]
    most = sender.evaluate("maxBuffered.files")
    for page in (sender, receiver):
        page.context.close()
    mib = size / 2**20
    return {
        "bytes_mib_s": mib / ((ends[0] - start) / 1000),
        "checked_mib_s": mib / ((ends[1] - start) / 1000),
        "max_buffered": most,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=64)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = {name: browsers.find(name) for name in browsers.NAMES}
    data = {"machine": shared.machine(), "mib": args.mib, "runs": {}}
    with tempfile.TemporaryDirectory() as logs, sync_playwright() as playwright:
        server = Server(8, Path(logs))
        launched = {
            n: getattr(playwright, n).launch(**browsers.launch_options(n, p))
            for n, p in paths.items()
        }
        for _ in range(args.runs):
            for pair in PAIRS:
                run = one_run(launched, server, pair, args.mib * 2**20)
                data["runs"].setdefault(" to ".join(pair), []).append(run)
                logging.info(
                    "%s to %s: %.1f MiB/s (%.1f checked)",
                    *pair,
                    run["bytes_mib_s"],
                    run["checked_mib_s"],
                )
        server.stop()
    data["medians"] = {
        pair: {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}
        for pair, runs in data["runs"].items()
    }
    shared.save("file_transfer", data)


if __name__ == "__main__":
    main()
