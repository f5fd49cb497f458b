"""How long connections take to come up, and how fast messages go, in real Chromium.

Each user is a browser context in one headless Chromium (fake camera and microphone) on the
step's real server; the recorder of bench/shared.py timestamps inside the pages. Scenarios:

- step1: the in-page floor, from the first setLocalDescription() until both ends are open;
- step2: from the second user's Join click until the channel is open on both pages;
- step4: meshes of 2, 4, 6, 8: from the last joiner's click until every page has n-1 channels
  open; step5: video meshes of 2, 3, 4, until every page decodes every other page's video;
- step6: 3 pages and the server peer: from the last joiner's click until its channel is open,
  until its first message (sent as soon as it can) reaches the others, and until every page
  decodes every other member's video;
- rtt: round trips over step 2's channel; fanout: step 4 at 4 and 8 members, from one member's
  Send until every other page has the message.

Each run records the 1-minute load average.

    .venv/bin/python -m bench.browser_setup                  # everything, 10 runs each
    .venv/bin/python -m bench.browser_setup --runs 2 --only step4 fanout

Writes bench/results/browser_setup.json; a partial run replaces only its own scenarios.
"""

import argparse
import logging
import tempfile
import time
from functools import partial
from pathlib import Path

from bench import shared
from tests.server import Server

SCENARIOS = ("step1", "step2", "rtt", "step4", "fanout", "step5", "step6")


def floor_run(browser, server):
    try:
        page = shared.open_page(browser, server.url)
        page.click("#start")
        shared.wait_open(page, 2)
        timeline = page.evaluate("__bench.events")
    finally:
        shared.close_pages(browser)
    t0 = min(event["t"] for event in timeline if event["type"] == "sld-call")
    floor = round(shared.latest(timeline, "channel-open") - t0, 1)
    return {"step1_floor": floor}


def mesh_run(browser, server, n, key, ready, done_event, pings=0, messages=0):
    """Steps 2, 4 and 5: from the last joiner's click until every page is `ready` with the n-1
    others (the latest `done_event` on any page); then round trips, or fan-out messages."""
    try:
        pages, timelines, t0 = shared.join_room(browser, server, n, ready)
        done = max(shared.latest(timeline, done_event) for timeline in timelines)
        results = {key: round(done - t0, 1)}
        if pings:
            samples = pages[0].evaluate("([n, gap]) => __bench.ping(n, gap)", [pings, 20])
            results["step2_rtt"] = [round(s, 2) for s in samples]
        fan_out = []  # one member sends through its form, until every other member has it
        for m in range(messages):
            pages[0].fill("#message", f"[fan-out {m}]")
            pages[0].click("#send")
            done = shared.received(pages[1:], f"[fan-out {m}]")
            sent = shared.clicked(pages[0].evaluate("__bench.events"), "send")
            fan_out.append(round(done - sent, 2))
        return results | ({f"step4_fanout_{n}": fan_out} if fan_out else {})
    finally:
        shared.close_pages(browser)


def server_peer_ready(page, others):
    shared.wait_open(page, 1)
    shared.wait_frames(page, others)


def server_peer_run(browser, server, n):
    """Step 6: from the last joiner's click until its channel to the server is open, until its
    first message reaches everyone, and until every page decodes every other member's video."""
    try:
        pages, timelines, t0 = shared.join_room(
            browser, server, n, server_peer_ready, message_after=1
        )
        message = shared.received(pages[:-1], "[first message]")
        done = max(shared.latest(timeline, "frame") for timeline in timelines)
        return {
            f"step6_open_{n}": round(shared.latest(timelines[-1], "channel-open") - t0, 1),
            f"step6_message_{n}": round(message - t0, 1),
            f"step6_frame_{n}": round(done - t0, 1),
        }
    finally:
        shared.close_pages(browser)


def run_group(label, function, runs, into):
    """Runs one scenario `runs` times; stores for each key its summary, raw values (samples, for
    the messages), the load average of each run, the errors and the machine."""
    info, collected, errors = shared.machine(), {}, []
    for run in range(1, runs + 1):
        load, started = shared.load_average(), time.monotonic()
        try:
            results = function()  # {key: milliseconds, or a list of samples}
        except Exception as error:  # a failed run is reported; the others still count
            errors.append(f"run {run}: {type(error).__name__}: {str(error).splitlines()[0]}")
            logging.warning("%s run %d: %s", label, run, errors[-1])
            continue
        for key, value in results.items():
            entry = collected.setdefault(key, {"raw": [], "load": []})
            entry["raw"] += value if isinstance(value, list) else [value]
            entry["load"].append(load)
        shown = {key: value for key, value in results.items() if not isinstance(value, list)}
        logging.info("%s run %d: %s (%.1f s)", label, run, shown, time.monotonic() - started)
    info["load_end"] = shared.load_average()
    for key, entry in collected.items():
        entry.update(summary=shared.summary(entry["raw"]), errors=errors, machine=info)
        into[key] = entry


def measure(browser, servers, args, only, stored):
    """Runs the scenarios in `only`, each as a group of runs; saves after each group."""
    run = partial(mesh_run, browser)
    groups = []  # (label, function)
    if "step1" in only:
        groups.append(("step 1 floor", partial(floor_run, browser, servers[1])))
    if only & {"step2", "rtt"}:
        pings = args.pings if "rtt" in only else 0
        two = partial(run, servers[2], 2, "step2_join_open", shared.wait_open, "channel-open")
        groups.append(("step 2", partial(two, pings=pings)))
    for n in args.mesh_sizes if "step4" in only else [4, 8] if "fanout" in only else []:
        messages = args.messages if "fanout" in only and n in (4, 8) else 0
        mesh = partial(run, servers[4], n, f"step4_mesh_{n}", shared.wait_open, "channel-open")
        groups.append((f"step 4 mesh of {n}", partial(mesh, messages=messages)))
    for n in args.video_sizes if "step5" in only else []:
        video = partial(run, servers[5], n, f"step5_frame_{n}", shared.wait_frames, "frame")
        groups.append((f"step 5 video {n}", video))
    if "step6" in only:
        groups.append(("step 6 server peer", partial(server_peer_run, browser, servers[6], 3)))
    for label, function in groups:
        logging.info("%s (load %.1f)", label, shared.load_average())
        run_group(label, function, args.runs, stored["scenarios"])
        stored["updated"] = time.strftime("%Y-%m-%d %H:%M %Z")
        shared.save("browser_setup", stored)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS)
    parser.add_argument("--mesh-sizes", type=int, nargs="+", default=[2, 4, 6, 8])
    parser.add_argument("--video-sizes", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--pings", type=int, default=10, help="round trips per step 2 run")
    parser.add_argument("--messages", type=int, default=3, help="fan-out messages per run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    only = set(args.only)
    stored = shared.load("browser_setup") or {"scenarios": {}}
    needs = {1: {"step1"}, 2: {"step2", "rtt"}, 4: {"step4", "fanout"}, 5: {"step5"}, 6: {"step6"}}
    with shared.chromium() as browser, tempfile.TemporaryDirectory() as logs:
        servers = {}
        try:
            for step in (step for step, names in needs.items() if only & names):
                servers[step] = Server(step, Path(logs))
            measure(browser, servers, args, only, stored)
        finally:
            for server in servers.values():
                server.stop()


if __name__ == "__main__":
    main()
