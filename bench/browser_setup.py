"""How long connections take to come up, and how fast messages go, in real Chromium.

Each user is a browser context in one shared headless Chromium (fake camera and microphone), on
the step's real server (`python -m common.run`), exactly as the tests drive them. Every page gets
the recorder of bench/browser_common.py, which timestamps inside the page; Playwright only waits.

Setup (from a click to the moment the page has what it was after):
- step1: in-page floor, no signaling: the first setLocalDescription() (the offer) until both ends
  of the data channel are open (the Start click is recorded too);
- step2: two users; from the second user's Join click until the channel is open on both pages;
- step4: a mesh of 2, 4, 6, 8 pages; the others are already connected, then from the last
  joiner's click until every page has n-1 open channels;
- step5: video mesh of 2, 3, 4 pages; from the last joiner's click until every page has decoded a
  frame of every other page's video;
- step6 (if the step exists): 3 pages and the server peer; from the last joiner's click until its
  channel to the server is open, until its first chat message (sent as soon as the channel opens)
  reaches the two others, and until every page has decoded a frame of every other member.

Messages:
- rtt: round trip over step 2's data channel (one page sends, the other echoes at once);
- fanout: step 4 at 4 and 8 members; one member sends through the page's own form, and the clock
  stops when every other page has received the message.

Each timed run also records where the time went (join acknowledgement, offers and answers
through the server, ICE, DTLS, channel open, getUserMedia), as milliseconds after the click.
Each group of runs records the load average and how busy the CPUs were, split between this
benchmark (its Chromium and servers) and other programs (`machine.cpu_use`): on a 2-core machine
the pages alone keep the CPUs busy, so a high load average is partly the benchmark's own.

    .venv/bin/python -m bench.browser_setup --settle 3       # everything, 10 runs each
    .venv/bin/python -m bench.browser_setup --runs 2 --only step4 fanout
    .venv/bin/python -m bench.browser_setup --chart-only     # redraw the charts from the JSON
    .venv/bin/python -m bench.browser_setup --only step5 --experiment baseline
    .venv/bin/python -m bench.browser_setup --only step5 --experiment max-bundle small-video

--settle LOAD waits between groups until the load average is below LOAD or the CPUs are idle.
--experiment runs a what-if: every page gets an init script (no live stats panel, max-bundle,
no TCP candidates signaled, a 320x240 camera); the steps' own code is not changed.

Results go to bench/results/browser_setup.json (merged: a partial run replaces only its own
scenarios; experiments go to browser_setup-exp-NAMES.json) and the charts to
docs/images/bench-setup.png, bench-setup-phases.png, bench-messages.png and (with a baseline
and at least one experiment) bench-setup-whatif.png.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.browser_common import (
    IMAGES,
    RECORDER,
    RESULTS,
    cpu_share,
    cpu_snapshot,
    load_average,
    machine,
    read_results,
    summarize,
    write_results,
)
from tests.chromium import HOW_TO_GET_ONE, find_chromium
from tests.conftest import CHROMIUM_ARGS
from tests.server import ROOT, Server

SCENARIOS = ("step1", "step2", "rtt", "step4", "fanout", "step5", "step6")
RESULT_NAME = "browser_setup"
WAIT_MS = 60_000
FANOUT_SIZES = (4, 8)

# What the README reports against (not asserted here).
TARGETS = {
    "step2_join_open": "within 5x the step 1 floor",
    "step4_mesh_8": 500,
    "step5_frame_2": 200,
    "step5_frame_3": 200,
    "step5_frame_4": 200,
    "step6_frame_3": 200,
}

DUMP = """() => ({
  events: __bench.events,
  frames: __bench.frameTimes(),
  received: __bench.received,
})"""
CHANNELS_OPEN = "(count) => __bench.openChannels() >= count"
FRAMES_DECODED = "(count) => __bench.framedTracks() >= count"
RECEIVED = "(text) => __bench.received.some((r) => r.data.includes(text))"


# What-if runs, to find where the time goes: each adds an init script to every page. The pages'
# own code is unchanged; results go to a file of their own (bench/results/browser_setup-exp-*.json).
EXPERIMENTS = {
    # Nothing changed: the same measurement, for comparison, run next to the others.
    "baseline": "",
    # No live stats panel: watchStats() polls getStats() of every connection every second.
    "no-stats": """document.addEventListener('DOMContentLoaded', () => {
  window.watchStats = () => {};
});""",
    # One transport for audio, video and data instead of one for each (bundlePolicy 'balanced').
    "max-bundle": """(() => {
  const Inner = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Inner {
    constructor(config = {}, ...rest) {
      super({...config, bundlePolicy: 'max-bundle'}, ...rest);
    }
  };
})();""",
    # The page never sees (so never signals) TCP candidates: fewer messages through the server.
    "udp-only": """(() => {
  const Inner = window.RTCPeerConnection;
  let native = null;
  for (let proto = Inner.prototype; !native && proto; proto = Object.getPrototypeOf(proto)) {
    native = Object.getOwnPropertyDescriptor(proto, 'onicecandidate');
  }
  window.RTCPeerConnection = class extends Inner {};
  Object.defineProperty(window.RTCPeerConnection.prototype, 'onicecandidate', {
    set(handler) {
      native.set.call(this, (event) => {
        if (event.candidate && / tcp /i.test(event.candidate.candidate)) {
          return;
        }
        handler(event);
      });
    },
    get() {
      return native.get.call(this);
    },
  });
})();""",
    # A smaller camera picture (step 6 asks for this one): less to encode and decode.
    "small-video": """(() => {
  const media = navigator.mediaDevices;
  const getUserMedia = media.getUserMedia.bind(media);
  const camera = {width: {exact: 320}, height: {exact: 240}, frameRate: {max: 15}};
  media.getUserMedia = (c) => getUserMedia(c && c.video ? {...c, video: camera} : c);
})();""",
}


class Bench:
    """One Chromium, one server per step, and a fresh browser context per user."""

    def __init__(self, playwright, path, log_dir, extra_scripts=()):
        self.extra_scripts = list(extra_scripts)
        self.chromium = path
        self.browser = playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, headless=True
        )
        self.log_dir = log_dir
        self.servers = {}

    def server(self, step):
        if step not in self.servers:
            self.servers[step] = Server(step, self.log_dir)
        return self.servers[step]

    def user(self, step, room=None, name=None):
        context = self.browser.new_context()
        context.add_init_script(RECORDER)
        for script in self.extra_scripts:
            context.add_init_script(script)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        url = self.server(step).url + (f"/?room={room}" if room else "/")
        page.goto(url)
        if name:
            page.wait_for_function(
                "document.querySelector('#signaling-state').textContent === 'connected'"
            )
            page.fill("#name", name)
        return context, page

    def close(self):
        self.browser.close()
        for server in self.servers.values():
            server.stop()


# --- reading the recorded timelines -------------------------------------------------------


def events_of(timeline, type_, after, **match):
    return [
        event
        for event in timeline["events"]
        if event["type"] == type_
        and event["t"] >= after
        and all(event.get(key) == value for key, value in match.items())
    ]


def first(timeline, type_, after, **match):
    found = events_of(timeline, type_, after, **match)
    return found[0]["t"] if found else None


def last(timeline, type_, after, **match):
    found = events_of(timeline, type_, after, **match)
    return found[-1]["t"] if found else None


def since(t0, value):
    return None if value is None else round(value - t0, 1)


def decoded_at(frame):
    """When a remote video's first frame was decoded: the earlier of the two witnesses."""
    times = [frame[key] for key in ("first", "processed") if frame.get(key) is not None]
    return min(times) if times else None


def frame_times(timeline):
    return [t for t in map(decoded_at, timeline["frames"]) if t is not None]


def latest_frame(timeline):
    times = frame_times(timeline)
    return max(times) if times else None


def latest_open(timeline):
    times = [event["t"] for event in timeline["events"] if event["type"] == "channel-open"]
    return max(times) if times else None


def join_phases(newcomer, others, t0, server_peer=False):
    """Milliseconds after the newcomer's click at which each step of the handshake was done."""
    phases = {
        "gum_done": first(newcomer, "gum-done", t0),
        "join_ack": first(newcomer, "sig-ack", t0, event="join"),
        "pc_created": first(newcomer, "pc-created", t0),
        "offer_made": last(newcomer, "sld-done", t0, kind="offer"),
    }
    if server_peer:
        # The page sends its offer only once ICE gathering is complete (aiortc does not trickle).
        phases["gathered"] = last(newcomer, "gathering-complete", t0)
        phases["offer_sent"] = last(newcomer, "sig-send", t0, event="offer")
        phases["answer_in"] = last(newcomer, "sig-ack", t0, event="offer")
    else:
        phases["offer_sent"] = last(newcomer, "sig-ack", t0, event="signal", kind="offer")
        # On the members already there (the latest of them): the offer arrives, they create a
        # connection, make the answer, and the server acknowledges sending it.
        for name, type_, match in (
            ("offer_received", "sig-recv", {"event": "signal", "kind": "offer"}),
            ("answerer_pc_created", "pc-created", {}),
            ("answer_made", "sld-done", {"kind": "answer"}),
            ("answer_sent", "sig-ack", {"event": "signal", "kind": "answer"}),
        ):
            times = [first(other, type_, t0, **match) for other in others]
            phases[name] = max(times) if others and None not in times else None
        phases["answer_in"] = last(newcomer, "sig-recv", t0, event="signal", kind="answer")
    phases["ice_connected"] = last(newcomer, "ice-connected", t0)
    phases["dtls_connected"] = last(newcomer, "pc-connected", t0)
    phases["newcomer_open"] = last(newcomer, "channel-open", t0)
    result = {name: since(t0, value) for name, value in phases.items()}
    result["offers"] = len(events_of(newcomer, "sig-send", t0, kind="offer"))
    result["others_offers"] = sum(len(events_of(o, "sig-send", t0, kind="offer")) for o in others)
    result["others_candidates"] = sum(len(events_of(o, "ice-candidate", t0)) for o in others)
    result["candidates"] = len(events_of(newcomer, "ice-candidate", t0))
    return result


def click_time(timeline, button):
    clicks = [e["t"] for e in timeline["events"] if e["type"] == "click" and e["id"] == button]
    return clicks[-1]


# --- scenarios ------------------------------------------------------------------------------


def floor_run(bench, run):
    context, page = bench.user(1)
    try:
        page.click("#start")
        page.wait_for_function(CHANNELS_OPEN, arg=2)
        timeline = page.evaluate(DUMP)
    finally:
        context.close()
    t_click = click_time(timeline, "start")
    t_offer = first(timeline, "sld-call", t_click)
    t_open = latest_open(timeline)
    phases = {
        "offer_made": since(t_offer, first(timeline, "sld-done", t_offer, kind="offer")),
        "answer_made": since(t_offer, first(timeline, "sld-done", t_offer, kind="answer")),
        "ice_connected": since(t_offer, last(timeline, "ice-connected", t_offer)),
        "dtls_connected": since(t_offer, last(timeline, "pc-connected", t_offer)),
        "click_to_pc": since(t_click, first(timeline, "pc-created", t_click)),
        "click_to_offer": since(t_click, t_offer),
    }
    return {
        "values": {"step1_floor": round(t_open - t_offer, 1)},
        "extra": {"click_to_open": round(t_open - t_click, 1)},
        "phases": {"step1_floor": phases},
    }


def join_room(bench, step, n, ready, name_prefix):
    """n users in a fresh room: all but the last join one by one, each time until the pages are
    ready (`ready(page, others)`). Returns the contexts and pages; the last has not joined."""
    room = f"bench-{uuid.uuid4().hex[:10]}"
    users = [bench.user(step, room, f"{name_prefix}{i}") for i in range(n)]
    pages = [page for _, page in users]
    for i, page in enumerate(pages[:-1]):
        page.click("#join")
        page.wait_for_selector("#leave:enabled")
        for earlier in pages[: i + 1]:
            ready(earlier, i)
    return [context for context, _ in users], pages


def channels_ready(page, others):
    page.wait_for_function(CHANNELS_OPEN, arg=others)


def frames_ready(page, others):
    page.wait_for_function(FRAMES_DECODED, arg=others)


def mesh_run(bench, step, n, run, key, after=None):
    """Steps 2 and 4: the last joiner's click until every page has n-1 open channels."""
    contexts, pages = join_room(bench, step, n, channels_ready, f"r{run}u")
    try:
        newcomer = pages[-1]
        newcomer.click("#join")
        for page in pages:
            channels_ready(page, n - 1)
        timelines = [page.evaluate(DUMP) for page in pages]
        t0 = click_time(timelines[-1], "join")
        all_open = max(latest_open(timeline) for timeline in timelines)
        phases = join_phases(timelines[-1], timelines[:-1], t0)
        result = {"values": {key: round(all_open - t0, 1)}, "phases": {key: phases}}
        if after:
            after(pages, run, result)
        return result
    finally:
        for context in contexts:
            context.close()


def round_trips(pings):
    def measure(pages, run, result):
        samples = pages[0].evaluate("([count, gap]) => __bench.ping(count, gap)", [pings, 20])
        result.setdefault("samples", {})["step2_rtt"] = [round(s, 2) for s in samples]

    return measure


def fan_out(messages, n):
    def measure(pages, run, result):
        sender, others = pages[0], pages[1:]
        samples, spreads = [], []
        for m in range(messages):
            text = f"bench-fanout-{run}-{m}"
            sender.fill("#message", text)
            sender.click("#send")
            for page in others:
                page.wait_for_function(RECEIVED, arg=text)
            sent = sender.evaluate(
                "() => __bench.events.filter((e) => e.type === 'submit').at(-1).t"
            )
            arrivals = [
                page.evaluate("(text) => __bench.received.find((r) => r.data === text).t", text)
                for page in others
            ]
            samples.append(round(max(arrivals) - sent, 2))
            spreads.append(round(max(arrivals) - min(arrivals), 2))
        result.setdefault("samples", {})[f"step4_fanout_{n}"] = samples
        result.setdefault("extra", {})[f"fanout_{n}_spread"] = spreads

    return measure


def video_run(bench, n, run):
    """Step 5: the last joiner's click until every page decodes every other page's video."""
    key = f"step5_frame_{n}"
    contexts, pages = join_room(bench, 5, n, frames_ready, f"r{run}v")
    try:
        newcomer = pages[-1]
        newcomer.click("#join")
        for page in pages:
            frames_ready(page, n - 1)
        timelines = [page.evaluate(DUMP) for page in pages]
        t0 = click_time(timelines[-1], "join")
        all_frames = max(latest_frame(timeline) for timeline in timelines)
        phases = join_phases(timelines[-1], timelines[:-1], t0)
        newcomer_frames = frame_times(timelines[-1])
        phases["newcomer_first_frame"] = since(t0, min(newcomer_frames))
        phases["newcomer_all_frames"] = since(t0, max(newcomer_frames))
        phases["others_see_newcomer"] = since(
            t0, max(latest_frame(timeline) for timeline in timelines[:-1])
        )
        return {"values": {key: round(all_frames - t0, 1)}, "phases": {key: phases}}
    finally:
        for context in contexts:
            context.close()


def server_peer_ready(page, others):
    page.wait_for_function(CHANNELS_OPEN, arg=1)
    frames_ready(page, others)


def server_peer_run(bench, n, run):
    """Step 6: the last joiner's click until its channel to the server is open, until its first
    message reaches everyone, and until every page decodes every other member's video."""
    contexts, pages = join_room(bench, 6, n, server_peer_ready, f"r{run}s")
    try:
        newcomer = pages[-1]
        text = f"bench-first-{run}"
        newcomer.evaluate(
            "(text) => { __bench.autoSend = JSON.stringify({type: 'chat', text}); }", text
        )
        newcomer.click("#join")
        for page in pages[:-1]:
            page.wait_for_function(RECEIVED, arg=text)
        for page in pages:
            server_peer_ready(page, n - 1)
        timelines = [page.evaluate(DUMP) for page in pages]
        t0 = click_time(timelines[-1], "join")
        arrivals = [
            next(r["t"] for r in timeline["received"] if text in r["data"])
            for timeline in timelines[:-1]
        ]
        all_frames = max(latest_frame(timeline) for timeline in timelines)
        phases = join_phases(timelines[-1], timelines[:-1], t0, server_peer=True)
        phases["first_message"] = since(t0, max(arrivals))
        phases["all_frames"] = since(t0, all_frames)
        newcomer_frames = frame_times(timelines[-1])
        phases["newcomer_first_frame"] = since(t0, min(newcomer_frames))
        phases["others_see_newcomer"] = since(
            t0, max(latest_frame(timeline) for timeline in timelines[:-1])
        )
        return {
            "values": {
                f"step6_open_{n}": phases["newcomer_open"],
                f"step6_message_{n}": phases["first_message"],
                f"step6_frame_{n}": phases["all_frames"],
            },
            "phases": {f"step6_frame_{n}": phases},
        }
    finally:
        for context in contexts:
            context.close()


# --- running and recording ------------------------------------------------------------------


def plan(args, bench):
    """(group, label, function(run) -> result) for each group of runs, in order."""
    only = set(args.only or SCENARIOS)
    groups = []
    if "step1" in only:
        groups.append(("step1", "step 1 floor", lambda run: floor_run(bench, run)))
    if only & {"step2", "rtt"}:
        after = round_trips(args.pings) if "rtt" in only else None
        groups.append(
            (
                "step2",
                "step 2 join",
                lambda run, after=after: mesh_run(bench, 2, 2, run, "step2_join_open", after),
            )
        )
    if only & {"step4", "fanout"}:
        sizes = args.mesh_sizes if "step4" in only else FANOUT_SIZES
        for n in sizes:
            after = fan_out(args.messages, n) if "fanout" in only and n in FANOUT_SIZES else None
            groups.append(
                (
                    f"step4_{n}",
                    f"step 4 mesh of {n}",
                    lambda run, n=n, after=after: mesh_run(
                        bench, 4, n, run, f"step4_mesh_{n}", after
                    ),
                )
            )
    if "step5" in only:
        for n in args.video_sizes:
            groups.append(
                (f"step5_{n}", f"step 5 video {n}", lambda run, n=n: video_run(bench, n, run))
            )
    if "step6" in only:
        if (ROOT / "step6_server_peer" / "server.py").exists():
            groups.append(
                ("step6_3", "step 6 server peer 3", lambda run: server_peer_run(bench, 3, run))
            )
        else:
            print("step 6 does not exist (no step6_server_peer/server.py): skipped")
    return groups


def run_group(label, function, runs):
    """Runs a group `runs` times; collects values, samples, phases, extras and errors."""
    collected = {"values": {}, "samples": {}, "phases": {}, "extra": {}, "errors": [], "load": []}
    for run in range(runs):
        load = load_average()[0]
        started = time.monotonic()
        try:
            result = function(run)
        except Exception as error:
            collected["errors"].append(f"run {run}: {type(error).__name__}: {error}")
            traceback.print_exc(limit=2)
            continue
        collected["load"].append(load)
        for key, value in result.get("values", {}).items():
            collected["values"].setdefault(key, []).append(value)
        for key, values in result.get("samples", {}).items():
            collected["samples"].setdefault(key, []).extend(values)
        for key, phases in result.get("phases", {}).items():
            collected["phases"].setdefault(key, []).append(phases)
        for key, value in result.get("extra", {}).items():
            collected["extra"].setdefault(key, []).append(value)
        shown = ", ".join(f"{k}={v}" for k, v in result.get("values", {}).items())
        print(f"  {label} run {run + 1}/{runs}: {shown} ({time.monotonic() - started:.1f} s)")
    return collected


def settle(threshold, longest=240):
    """Waits (up to `longest` s) until the 1-minute load average is below `threshold` or the
    CPUs were at least 90 % idle over the last 5 s: the previous group's pages (and everyone
    else's tests) leave load behind them. (The load average lags: it stays high for minutes
    after the machine has gone idle.)"""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        before = cpu_snapshot()
        time.sleep(5)
        busy = cpu_share(before, cpu_snapshot()).get("machine_busy_pct", 0)
        if load_average()[0] < threshold or busy < 10:
            return


def phase_medians(phase_runs):
    names = list(phase_runs[0])
    return {name: summarize([p.get(name) for p in phase_runs])["median"] for name in names}


def record(collected, info, label, into):
    info = {**info, "load_end": load_average()}
    for key, values in collected["values"].items():
        entry = {
            "label": label,
            "kind": "setup",
            "unit": "ms",
            "summary": summarize(values),
            "raw": values,
            "target": TARGETS.get(key),
            "load_1min_per_run": collected["load"],
            "errors": collected["errors"],
            "machine": info,
        }
        if key in collected["phases"]:
            entry["phases_median_ms"] = phase_medians(collected["phases"][key])
            entry["phases_raw"] = collected["phases"][key]
        if collected["extra"]:
            entry["extra"] = collected["extra"]
        into[key] = entry
    for key, values in collected["samples"].items():
        into[key] = {
            "label": label,
            "kind": "message",
            "unit": "ms",
            "summary": summarize(values),
            "raw": values,
            "load_1min_per_run": collected["load"],
            "errors": collected["errors"],
            "machine": info,
            "extra": collected["extra"],
        }
    if collected["values"] or collected["samples"]:
        into.pop(f"failed:{label}", None)
    else:
        into[f"failed:{label}"] = {"label": label, "errors": collected["errors"], "machine": info}


def derived(scenarios):
    """Ratios the README reports: step 2 against the step 1 floor."""
    floor = scenarios.get("step1_floor", {}).get("summary", {}).get("median")
    join = scenarios.get("step2_join_open", {}).get("summary", {}).get("median")
    if floor and join:
        return {"step2_over_floor_median": round(join / floor, 2)}
    return {}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", nargs="+", choices=SCENARIOS)
    parser.add_argument("--mesh-sizes", type=int, nargs="+", default=[2, 4, 6, 8])
    parser.add_argument("--video-sizes", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--pings", type=int, default=10, help="round trips per step 2 run")
    parser.add_argument("--messages", type=int, default=3, help="fan-out messages per mesh run")
    parser.add_argument(
        "--settle",
        type=float,
        metavar="LOAD",
        help="before each group, wait (up to 4 min) for the 1-minute load to fall below LOAD",
    )
    parser.add_argument(
        "--experiment",
        nargs="+",
        choices=sorted(EXPERIMENTS),
        help="what-if: change every page this way (results go to a file of their own)",
    )
    parser.add_argument("--chart-only", action="store_true")
    parser.add_argument("--no-chart", action="store_true")
    args = parser.parse_args(argv)

    experiments = sorted(set(args.experiment or ()))
    result_name = "-".join([RESULT_NAME, "exp", *experiments]) if experiments else RESULT_NAME
    stored = read_results(result_name) or {"scenarios": {}}
    if experiments:
        stored["experiments"] = experiments
    if not args.chart_only:
        chromium = find_chromium()  # before Playwright starts: it starts one of its own
        if chromium is None:
            sys.exit(HOW_TO_GET_ONE)
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as logs:
            scripts = [EXPERIMENTS[name] for name in experiments if EXPERIMENTS[name]]
            bench = Bench(playwright, chromium, Path(logs), scripts)
            try:
                for _group, label, function in plan(args, bench):
                    if args.settle:
                        settle(args.settle)
                    print(f"{label} (load {load_average()})")
                    info = machine(bench.chromium)
                    before = cpu_snapshot()
                    collected = run_group(label, function, args.runs)
                    info["cpu_use"] = cpu_share(before, cpu_snapshot())
                    record(collected, info, label, stored["scenarios"])
                    stored["derived"] = derived(stored["scenarios"])
                    stored["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                    write_results(result_name, stored)
            finally:
                bench.close()
        print_table(stored["scenarios"])
    if not args.no_chart and not experiments:
        for path in draw_all(stored, IMAGES):
            print(f"chart: {os.path.relpath(path, ROOT)}")


def print_table(scenarios):
    print(f"\n{'scenario':28} {'median':>8} {'p90':>8} {'n':>4}  load")
    for key, entry in scenarios.items():
        summary = entry.get("summary")
        if not summary:
            print(f"{key:28} failed: {entry.get('errors')}")
            continue
        loads = entry.get("load_1min_per_run") or [0]
        print(
            f"{key:28} {summary['median']!s:>8} {summary['p90']!s:>8} {summary['n']:>4}  "
            f"{min(loads):.1f}-{max(loads):.1f}"
        )


# --- charts ---------------------------------------------------------------------------------

SETUP_ROWS = [
    ("step1_floor", "step 1: in-page floor (offer to open)"),
    ("step2_join_open", "step 2: 2 pages, join to open"),
    ("step4_mesh_2", "step 4: mesh of 2, join to all open"),
    ("step4_mesh_4", "step 4: mesh of 4"),
    ("step4_mesh_6", "step 4: mesh of 6"),
    ("step4_mesh_8", "step 4: mesh of 8"),
    ("step5_frame_2", "step 5: 2 pages, join to first frame"),
    ("step5_frame_3", "step 5: 3 pages"),
    ("step5_frame_4", "step 5: 4 pages"),
    ("step6_open_3", "step 6: 3 pages, join to open"),
    ("step6_message_3", "step 6: join to first message"),
    ("step6_frame_3", "step 6: join to first frame"),
]
MESSAGE_ROWS = [
    ("step2_rtt", "step 2: data channel round trip"),
    ("step4_fanout_4", "step 4: fan-out to 3 others (4 members)"),
    ("step4_fanout_8", "step 4: fan-out to 7 others (8 members)"),
]
# Consecutive phases of a join, as (field, what happened until then); medians over the runs.
PHASES = [
    ("gum_done", "getUserMedia"),
    ("join_ack", "join round trip"),
    ("pc_created", "create RTCPeerConnection(s)"),
    ("offer_made", "create offer(s)"),
    ("gathered", "wait for ICE gathering to complete (step 6)"),
    ("offer_received", "offer through the server"),
    ("answerer_pc_created", "answerer creates its RTCPeerConnection"),
    ("answer_made", "answerer makes the answer"),
    ("answer_in", "answer through the server"),
    ("ice_connected", "ICE checks"),
    ("newcomer_open", "DTLS + SCTP: newcomer's channels open"),
    ("total", "other pages open / first frames decoded"),
]
PHASE_ROWS = [
    ("step1_floor", "step 1 floor (from the offer)"),
    ("step2_join_open", "step 2 (2 pages)"),
    ("step4_mesh_4", "step 4 mesh of 4"),
    ("step4_mesh_8", "step 4 mesh of 8"),
    ("step5_frame_2", "step 5 video, 2 pages"),
    ("step5_frame_4", "step 5 video, 4 pages"),
    ("step6_frame_3", "step 6, 3 pages (to first frame)"),
]
COLORS = {
    "step1": "#7a7a7a",
    "step2": "#3b75af",
    "step4": "#519e3e",
    "step5": "#ef8636",
    "step6": "#8d69b8",
}


def draw_all(stored, folder):
    import matplotlib

    matplotlib.use("Agg")
    scenarios = stored.get("scenarios", {})
    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, rows, title, drawer in (
        ("bench-setup.png", SETUP_ROWS, "Connection setup in Chromium", draw_bars),
        ("bench-messages.png", MESSAGE_ROWS, "Data channel messages in Chromium", draw_bars),
        ("bench-setup-phases.png", PHASE_ROWS, "Where the setup time goes", draw_phases),
    ):
        present = [(key, label) for key, label in rows if scenarios.get(key, {}).get("summary")]
        if present:
            path = folder / name
            drawer(scenarios, present, title, path)
            drawn.append(path)
    whatif = folder / "bench-setup-whatif.png"
    if draw_whatif(whatif):
        drawn.append(whatif)
    return drawn


def short_label(key):
    step, what, size = [*key.split("_"), "", ""][:3]
    if what == "mesh":
        return f"step 4, mesh of {size}"
    return f"{step[:4]} {step[4:]}, {size} pages"


def draw_whatif(path):
    """The what-if runs (--experiment) next to their baseline, scenario by scenario."""
    import matplotlib.pyplot as plt

    runs = {}
    for file in sorted(RESULTS.glob(f"{RESULT_NAME}-exp-*.json")):
        stored = json.loads(file.read_text())
        runs[" + ".join(stored.get("experiments", [file.stem]))] = stored["scenarios"]
    if "baseline" not in runs or len(runs) < 2:
        return False
    names = ["baseline", *sorted(name for name in runs if name != "baseline")]
    keys = [key for key, _ in SETUP_ROWS if any(key in runs[name] for name in names)]
    rows = [(key, name) for key in keys for name in names if runs[name].get(key, {}).get("summary")]
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.8))
    palette = plt.get_cmap("tab10").colors
    y = list(range(len(rows)))[::-1]
    for row, (key, name) in enumerate(rows):
        summary = runs[name][key]["summary"]
        color = palette[names.index(name) % 10]
        ax.barh(y[row], summary["median"], color=color, height=0.7)
        ax.errorbar(
            summary["median"],
            y[row],
            xerr=[[0], [summary["p90"] - summary["median"]]],
            fmt="none",
            ecolor="black",
            capsize=2,
            linewidth=1,
        )
        ax.text(
            summary["p90"] * 1.01,
            y[row],
            f"{summary['median']:g} / {summary['p90']:g}",
            va="center",
            fontsize=7,
        )
    ax.set_yticks(y, [f"{short_label(key)}: {name}" for key, name in rows], fontsize=7)
    ax.set_xlabel("milliseconds: bar = median, whisker = p90 (10 runs each, back to back)")
    ax.set_title(
        "What if the pages did less? Step 5: join to first frame; step 4: join to all open\n"
        "(init scripts; the steps' own code unchanged)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def load_note(entries):
    loads = [load for entry in entries for load in entry.get("load_1min_per_run", [])]
    others = [entry["machine"].get("cpu_use", {}).get("others_pct") for entry in entries]
    others = [value for value in others if value is not None]
    info = entries[0].get("machine", {})
    text = f"{info.get('nproc')} cores, {info.get('cpu')}; {info.get('date', '')[:10]}"
    if loads:
        text += f"; 1-min load average during the runs {min(loads):.1f} to {max(loads):.1f}"
    if others:
        text += f"; other programs' share of the CPU at most {max(others):.0f} %"
    return text


def target_of(scenarios, key):
    target = TARGETS.get(key)
    if key == "step2_join_open":
        floor = scenarios.get("step1_floor", {}).get("summary", {}).get("median")
        return 5 * floor if floor else None
    return target if isinstance(target, int | float) else None


def draw_bars(scenarios, rows, title, path):
    import matplotlib.pyplot as plt

    entries = [scenarios[key] for key, _ in rows]
    medians = [entry["summary"]["median"] for entry in entries]
    p90s = [entry["summary"]["p90"] for entry in entries]
    colors = [COLORS.get(key.split("_")[0], "#555") for key, _ in rows]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.6))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, medians, color=colors, height=0.6)
    ax.errorbar(
        medians,
        y,
        xerr=[[0] * len(rows), [p - m for p, m in zip(p90s, medians, strict=True)]],
        fmt="none",
        ecolor="black",
        capsize=3,
        linewidth=1,
    )
    right = max(p90s) * 1.35
    for row, (key, _) in enumerate(rows):
        entry = entries[row]
        ax.text(
            p90s[row] + right * 0.01,
            y[row],
            f"{medians[row]:g} / {p90s[row]:g} ms (n={entry['summary']['n']})",
            va="center",
            fontsize=8,
        )
        target = target_of(scenarios, key)
        if target:
            ax.plot([target, target], [y[row] - 0.4, y[row] + 0.4], color="crimson", linewidth=2)
            right = max(right, target * 1.1)
    ax.set_yticks(y, [label for _, label in rows], fontsize=9)
    ax.set_xlim(0, right)
    ax.set_xlabel("milliseconds: bar = median, whisker = p90; red tick = target")
    ax.set_title(title, fontsize=11)
    fig.text(0.01, 0.01, load_note(entries), fontsize=7, color="#555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_phases(scenarios, rows, title, path):
    import matplotlib.pyplot as plt

    tab20 = plt.get_cmap("tab20").colors
    palette = tab20[::2] + tab20[1::2]
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 2.8))
    y = list(range(len(rows)))[::-1]
    handles = {}
    for row, (key, _) in enumerate(rows):
        entry = scenarios[key]
        medians = dict(entry.get("phases_median_ms", {}))
        medians["total"] = entry["summary"]["median"]
        if key == "step1_floor":  # from the first setLocalDescription() call, not a click
            medians = {
                "offer_made": medians.get("offer_made"),
                "answer_made": medians.get("answer_made"),
                "ice_connected": medians.get("ice_connected"),
                "total": medians["total"],
            }
        start = 0.0
        for index, (field, _label) in enumerate(PHASES):
            end = medians.get(field)
            if end is None or end <= start:
                continue
            handles[field] = ax.barh(
                y[row], end - start, left=start, height=0.6, color=palette[index % 20]
            )
            start = end
    ax.set_yticks(y, [label for _, label in rows], fontsize=9)
    ax.set_xlabel("milliseconds after the click (medians of each phase's end)")
    ax.set_title(title, fontsize=11)
    shown = [(handles[field], label) for field, label in PHASES if field in handles]
    ax.legend(
        [h for h, _ in shown],
        [label for _, label in shown],
        fontsize=7,
        ncol=3,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
    )
    entries = [scenarios[key] for key, _ in rows]
    fig.text(0.01, 0.01, load_note(entries), fontsize=7, color="#555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
