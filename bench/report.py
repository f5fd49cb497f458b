"""Writes docs/benchmarks.md from the results in bench/results/ (run by `make bench` after the
measurements; `python -m bench.report` alone rewrites the page from the last results)."""

import json
import statistics

from bench.signaling_capacity import RESULTS, ROOT

PAGE = ROOT / "docs" / "benchmarks.md"
IMAGES = ROOT / "docs" / "images"
# What the figures mean: written from the measurements of 2026-11-21, kept with the code that
# places it (docs/benchmarks.md is regenerated from bench/results/).
PROSE = {
    "targets": [
        "Every page, server and load generator shares the same 2 cores, so a figure here is what "
        "all of them together allow. The set-up targets that are missed are missed by the "
        "machine as much as by the code: the step 1 floor (one page, no signaling, no video, "
        "nothing else running: the first row below) is already about half the target, and a "
        "first video frame also "
        "waits for the camera, the encoder's first keyframe and its decoding on every page at "
        "once. The signaling targets are missed by the threading model (see *Where one process "
        "spends its time*); [scaling.md](scaling.md) is the documented way past one process.",
    ],
    "improvements": [
        "The before figures are the code as it was at commit 6916023, measured with its own "
        "scripts by `python -m bench.before` right before the after figures, on the same machine "
        "(see bench/README.md). What changed:",
        "",
        "- **The server declines permessage-deflate** (`common/app.py`). simple-websocket accepts "
        "it whenever a client offers it, and browsers always do: a zlib compressor and "
        "decompressor per connection, and every small signal compressed. Declining it is what "
        "Node's socket.io does by default. It roughly halved the memory per idle connection.",
        "- **The stats panel polls only once a connection is up** (`common/static/stats.js`): "
        "during set-up the table shows the connection state from events, with no `getStats()`.",
        "- **Step 5 asks for 320x240 at 15 fps, bundles everything on one transport "
        "(`max-bundle`) and opens the camera while it joins**: in a mesh every page encodes its "
        "camera once per other member and decodes one video per other member, so the picture's "
        "size is paid n-1 times over.",
        "- **Room lookups take no lock** (`Rooms.member` and `Rooms.peer` in "
        "`common/signaling.py`; changes still do). A profile of the server at 4 pairs put 35 % "
        "of its samples in those two lookups, queued on the lock behind a thread the interpreter "
        "had switched away from. Three alternating runs each, one process, 5 s: 1,097, 1,391 "
        "and 1,434 signals/s with the lock against 1,797, 2,594 and 3,099 without (4 pairs); "
        "1,266, 1,216 and 1,342 against 1,886, 2,231 and 2,416 (16 pairs).",
        "- **Step 6 asks for its media, its membership and its slot count at the same time.**",
        "",
        "Tried and not kept (one process, back to back): a shorter interpreter switch interval "
        "(`sys.setswitchinterval(0.0005)`: 2,466 instead of 3,019 signals/s with one pair), "
        "`MALLOC_ARENA_MAX=2` and 256 KiB thread stacks (no change in memory per connection: "
        "only touched pages count).",
        "",
        "Not changed, and why: in the 8-page mesh what is left of the stats panel's cost is "
        "drawing eight visible tables on 2 cores (a helper's what-if: about 446 ms with no "
        "panel, 415 ms with the tables hidden but polling, against about 590 ms as shipped, "
        "medians of 30 to 60 runs at load 10). A learner has one page per machine, so the panel "
        "stays open by default.",
    ],
    "profile": [
        "About three quarters of the samples are the threading model itself: acquiring locks and "
        "the GIL when a thread wakes up, and the socket system calls of the reader and writer "
        "threads. "
        "In threading mode each connection has a reader thread (simple-websocket), a handler "
        "loop (the request's thread, which runs our event handlers in order: "
        "`async_handlers=False`), a writer thread (Engine.IO) and a ping task, so one relayed "
        "signal wakes three threads: the sender's, the target's writer and the sender's writer "
        "for the acknowledgement. This project's own code (validation, rooms, rate limit) is "
        "now about 1 % (35 % in a profile before room lookups stopped taking the lock): what is "
        "left is the price of threading mode, not of the signaling code.",
    ],
    "scaling": [
        "With `REDIS_URL`, processes share their rooms through Redis ([scaling.md](scaling.md)); "
        "the whole signaling contract and a browser test run across two processes. In the table "
        "above every signal of the Redis runs crosses from one process to the other (the worst "
        "case). On this 2-core machine, which also runs the load generator and Redis, two "
        "processes do not relay more than one: every process reads every message that crosses "
        "through Redis, and each signal looks its target up in Redis. What the Redis route "
        "buys is connections (each process holds its own couple of thousand) and the use of "
        "more cores and machines; it is not a faster path for one room.",
        "",
        "Idle connections: one process holds 2,000 at about 112 KiB each, well under the memory "
        "target, but not 5,000. Four threads per connection make 20,000 threads, and when the "
        "first ping interval comes round, hundreds of them wake at once and queue for the GIL: "
        "sampled while 5,000 connected (pings every 25 s), the process stopped accepting at "
        "17,225 threads (about 4,300 connections), 25 s in, while its CPU time went to the "
        "kernel; with pings every 10 s the same happened at about 9,000 threads. Pinging every "
        "25 s (Engine.IO's "
        "default) instead of every 10 s spreads the wake-ups: 3,000 connections then hold, at "
        "the price of noticing a vanished member in 30 s instead of 15 (`PING_INTERVAL`). The "
        "way past it is more processes, or an event-loop server (Engine.IO's gevent or eventlet "
        "modes, or asyncio), which this tutorial does not use: threading mode is the one that "
        "runs aiortc's peer in step 6 and is the simplest to read.",
    ],
}
SETUP_ROWS = [
    ("step1_floor", "step 1: in-page offer to open (the floor)", None),
    ("step2_join_open", "step 2: two pages, join to open", "within 5x the floor"),
    ("step4_mesh_2", "step 4: mesh of 2, join to all open", None),
    ("step4_mesh_4", "step 4: mesh of 4", None),
    ("step4_mesh_6", "step 4: mesh of 6", None),
    ("step4_mesh_8", "step 4: mesh of 8", "under 500 ms"),
    ("step5_frame_2", "step 5: 2 pages, join to first frames", "under 200 ms"),
    ("step5_frame_3", "step 5: 3 pages", "under 200 ms"),
    ("step5_frame_4", "step 5: 4 pages", "under 200 ms"),
    ("step6_open_3", "step 6: 3 pages, join to channel open", None),
    ("step6_frame_3", "step 6: 3 pages, join to first frames", "under 200 ms"),
]
MESSAGE_ROWS = [
    ("step2_rtt", "data channel round trip (step 2)"),
    ("step4_fanout_4", "group fan-out, 4 members (step 4)"),
    ("step4_fanout_8", "group fan-out, 8 members (step 4)"),
]


def load(name):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def setup_section(data):
    if not data:
        return ["*No results: run `python -m bench.browser_setup`.*"]
    scenarios = data["scenarios"]
    lines = [
        "| scenario | median ms | p90 ms | runs | target | load (1 min) during |",
        "|---|---|---|---|---|---|",
    ]
    for key, label, target in SETUP_ROWS:
        s = scenarios.get(key)
        if s:
            loads = s["load_1min_per_run"]
            load_avg = f"{statistics.median(loads):.1f}" if loads else "?"
            summary = s["summary"]
            lines.append(
                f"| {label} | {summary['median']:.0f} | {summary['p90']:.0f} | {summary['n']} "
                f"| {target or ''} | {load_avg} |"
            )
    lines += ["", "| message | median ms | p90 ms | samples |", "|---|---|---|---|"]
    for key, label in MESSAGE_ROWS:
        s = scenarios.get(key)
        if s:
            summary = s["summary"]
            lines.append(
                f"| {label} | {summary['median']:.1f} | {summary['p90']:.1f} | {summary['n']} |"
            )
    return lines


def throughput_configs(data):
    """(label, throughput runs) for each server configuration in a signaling result."""
    configs = [("Python, 1 process", data["python"]["throughput"])]
    for shared in data.get("pythonShared", []):
        n = shared["processes"]
        configs.append(
            (f"Python, {n} process{'es' if n > 1 else ''} + Redis", shared["throughput"])
        )
    configs.append(("Node reference", data["node"]["throughput"]))
    return [(label, runs) for label, runs in configs if runs]


def best(runs):
    return max((run["signalsPerSecond"] for run in runs), default=0)


def idle_configs(data):
    ping = data.get("slowPing", 25)
    configs = [
        ("Python, pings every 10 s", data["python"]["idle"]),
        (f"Python, pings every {ping} s", data.get("pythonSlowPing", {}).get("idle", [])),
        ("Node reference", data["node"]["idle"]),
    ]
    return [(label, runs) for label, runs in configs if runs]


def signaling_section(data):
    if not data:
        return ["*No results: run `python -m bench.signaling_capacity`.*"]
    machine = data["machine"]
    lines = [
        f"Measured {machine['date']}; window: {data['window']} acknowledged signals in flight per "
        f"sender; load average {machine['loadAverage'][0]:.1f} at the start, "
        f"{machine['loadAverageAfter'][0]:.1f} at the end.",
        "",
        "![Signaling capacity](images/bench-signaling.png)",
        "",
        "| server | pairs | signals/s | ack p50 ms | ack p99 ms | server cores | server RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, runs in throughput_configs(data):
        for run in runs:
            lines.append(
                f"| {label} | {run['pairs']} | {run['signalsPerSecond']:,.0f} "
                f"| {run['ackP50Ms']:.1f} | {run['ackP99Ms']:.1f} | {run['serverCores']:.2f} "
                f"| {run['serverPeakRssMiB']:.0f} |"
            )
    ours, node = best(data["python"]["throughput"]), best(data["node"]["throughput"])
    lines += [
        "",
        f"Best throughput on one process: Python {ours:,.0f}/s, Node {node:,.0f}/s, a ratio of "
        f"**{ours / node:.2f}** (target: at least 0.5).",
        "",
        *idle_note(data),
        "| server | idle connections | RSS MiB | per connection KiB | seconds to connect |",
        "|---|---|---|---|---|",
    ]
    for label, runs in idle_configs(data):
        for idle in runs:
            if idle.get("failed"):
                lines.append(
                    f"| {label} | {idle['requested']}: **not reached** (connections timed out) "
                    "| | | |"
                )
                continue
            lines.append(
                f"| {label} | {idle['connections']:,} | {idle['rssMiB']:.0f} "
                f"| {idle['perConnectionKiB']:.0f} | {idle['connectSeconds']:.1f} |"
            )
    return lines


def idle_note(data):
    """When the idle runs come from another run than the throughput runs, say when."""
    machine = data.get("idleMachine")
    if not machine:
        return []
    return [
        f"Idle connections measured {machine['date']} (load average "
        f"{machine['loadAverage'][0]:.1f} at the start): a run of its own, as thousands of "
        "threads leave the load average inflated for minutes.",
        "",
    ]


def signaling_chart(data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    configs = throughput_configs(data)
    pairs = sorted({run["pairs"] for _, runs in configs for run in runs})
    width = 0.8 / len(configs)
    for index, (label, runs) in enumerate(configs):
        by_pairs = {run["pairs"]: run["signalsPerSecond"] for run in runs}
        xs = [p + (index - (len(configs) - 1) / 2) * width for p in range(len(pairs))]
        values = [by_pairs.get(p, 0) for p in pairs]
        bars = left.bar(xs, values, width, label=label)
        left.bar_label(bars, labels=[f"{v / 1000:.1f}k" for v in values], fontsize=6)
    left.set_xticks(range(len(pairs)), [f"{p} pairs" for p in pairs])
    left.set_yscale("log")
    left.set_ylabel("acknowledged signals per second (log scale)")
    left.set_title("Throughput", fontsize=10)
    left.legend(fontsize=7)
    for label, runs in idle_configs(data):
        done = [run for run in runs if not run.get("failed")]
        line = right.plot(
            [run["connections"] for run in done], [run["rssMiB"] for run in done], "o-", label=label
        )
        for run in runs:
            if run.get("failed"):
                right.plot(run["requested"], 0, "x", color=line[0].get_color(), markersize=10)
                right.annotate(
                    "timed out",
                    (run["requested"], 0),
                    fontsize=7,
                    xytext=(4, 6),
                    textcoords="offset points",
                )
    right.axhline(1024, color="crimson", linewidth=1)
    right.text(100, 1040, "target: 5,000 connections under 1 GiB", fontsize=7, color="crimson")
    right.set_xlabel("idle connections")
    right.set_ylabel("server RSS, MiB")
    right.set_title("Idle connections (x: not reached)", fontsize=10)
    right.legend(fontsize=7)
    machine = data["machine"]
    fig.text(
        0.01,
        0.01,
        f"{machine['cpus']} cores, {machine['model']}; {machine['date']}; load average "
        f"{machine['loadAverage'][0]:.1f} at the start",
        fontsize=7,
        color="#555",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def before_after_section(signaling, before_signaling, setup, before_setup):
    """Tables of the last results against those of the code before the improvements (run with
    the same scripts, saved as bench/results/*-before.json)."""
    lines = []
    if signaling and before_signaling:
        lines += [
            "**Signaling server** (`bench.signaling_capacity`, before: "
            f"{before_signaling['machine']['date']}, after: {signaling['machine']['date']})",
            "",
            "| measure | before | after |",
            "|---|---|---|",
        ]
        runs = [
            {r["pairs"]: r for r in d["python"]["throughput"]}
            for d in (before_signaling, signaling)
        ]
        for pairs in sorted(set(runs[0]) & set(runs[1])):
            lines.append(
                f"| signals/s, {pairs} pair{'s' if pairs > 1 else ''} "
                f"| {runs[0][pairs]['signalsPerSecond']:,.0f} "
                f"| {runs[1][pairs]['signalsPerSecond']:,.0f} |"
            )
        idle = [
            {r.get("connections"): r for r in d["python"]["idle"] if not r.get("failed")}
            for d in (before_signaling, signaling)
        ]
        for count in sorted(set(idle[0]) & set(idle[1])):
            lines.append(
                f"| {count:,} idle connections: RSS MiB (KiB each) "
                f"| {idle[0][count]['rssMiB']:.0f} ({idle[0][count]['perConnectionKiB']:.0f}) "
                f"| {idle[1][count]['rssMiB']:.0f} ({idle[1][count]['perConnectionKiB']:.0f}) |"
            )
        lines.append(
            f"| Node reference, best signals/s in the same run (how busy the machine was) "
            f"| {best(before_signaling['node']['throughput']):,.0f} "
            f"| {best(signaling['node']['throughput']):,.0f} |"
        )
        lines.append("")
    if setup and before_setup:
        lines += [
            "**Connection set-up in Chromium** (`bench.browser_setup`, median / p90 ms of 10 "
            f"runs; after: finished {setup.get('updated', '?')}, before: finished "
            f"{before_setup.get('updated', '?')}, one after the other)",
            "",
            "| scenario | before | after | median change |",
            "|---|---|---|---|",
        ]
        for key, label, _ in SETUP_ROWS:
            old = before_setup["scenarios"].get(key, {}).get("summary", {})
            new = setup["scenarios"].get(key, {}).get("summary", {})
            if old.get("median") and new.get("median"):
                change = (new["median"] - old["median"]) / old["median"] * 100
                lines.append(
                    f"| {label} | {old['median']:.0f} / {old['p90']:.0f} "
                    f"| {new['median']:.0f} / {new['p90']:.0f} | {change:+.0f} % |"
                )
        lines.append("")
    return lines or ["*No before results: see bench/README.md.*"]


def before_after_chart(signaling, before_signaling, setup, before_setup, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), width_ratios=(3, 2))
    keys = [
        (key, label)
        for key, label, _ in SETUP_ROWS
        if before_setup["scenarios"].get(key, {}).get("summary", {}).get("median")
        and setup["scenarios"].get(key, {}).get("summary", {}).get("median")
    ]
    y = list(range(len(keys)))[::-1]
    for offset, (name, data) in ((0.2, ("before", before_setup)), (-0.2, ("after", setup))):
        medians = [data["scenarios"][key]["summary"]["median"] for key, _ in keys]
        bars = left.barh([v + offset for v in y], medians, 0.4, label=name)
        left.bar_label(bars, labels=[f"{m:.0f}" for m in medians], fontsize=6, padding=2)
    left.set_yticks(y, [label.replace("step ", "s") for _, label in keys], fontsize=7)
    left.set_xlabel("median ms")
    left.set_title("Connection set-up in Chromium", fontsize=10)
    left.legend(fontsize=7)
    runs = [
        {r["pairs"]: r["signalsPerSecond"] for r in d["python"]["throughput"]}
        for d in (before_signaling, signaling)
    ]
    pairs = sorted(set(runs[0]) & set(runs[1]))
    for offset, name, by_pairs in ((-0.2, "before", runs[0]), (0.2, "after", runs[1])):
        values = [by_pairs[p] for p in pairs]
        bars = right.bar([i + offset for i in range(len(pairs))], values, 0.4, label=name)
        right.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=6)
    right.set_xticks(range(len(pairs)), [f"{p} pairs" for p in pairs])
    right.set_ylabel("acknowledged signals per second")
    right.set_title("Python signaling server, one process", fontsize=10)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def suite_section(data):
    if not data:
        return ["*No results: run `python -m bench.suite_cost`.*"]
    return [
        f"`make test`: {data['outcome']} in {data['wall_s']:.0f} s of wall time; peak Chromium "
        f"memory {data['peak_browser_pss_mib']['value']:.0f} MiB PSS "
        f"({data['peak_browser_rss_mib']['value']:.0f} MiB RSS summed over "
        f"{data['max_browser_processes']} processes); load average at the start "
        f"{data['machine']['load_start'][0]}, measured {data['machine']['date']}.",
    ]


def soak_section():
    path = RESULTS / "soak.md"
    return [path.read_text()] if path.exists() else ["*No results: run `python -m bench.soak`.*"]


def targets_section(setup, signaling):
    """One line per target of the issue: what was measured against it."""

    def setup_median(key):
        return ((setup or {}).get("scenarios", {}).get(key, {}).get("summary") or {}).get("median")

    rows = []
    floor, two = setup_median("step1_floor"), setup_median("step2_join_open")
    if floor and two:
        rows.append(
            ("two pages join-to-open within 5x the floor", f"{two / floor:.1f}x", two <= 5 * floor)
        )
    mesh = (setup or {}).get("scenarios", {}).get("step4_mesh_8", {}).get("summary") or {}
    if mesh.get("median"):
        rows.append(
            (
                "8-page mesh, all open, under 500 ms",
                f"median {mesh['median']:.0f} ms, p90 {mesh['p90']:.0f} ms",
                mesh["median"] < 500,
            )
        )
    for key, label in (("step5_frame_2", "step 5, 2 pages"), ("step6_frame_3", "step 6, 3 pages")):
        median = setup_median(key)
        if median:
            rows.append(
                (f"first frame under 200 ms after join ({label})", f"{median:.0f} ms", median < 200)
            )
    if signaling:
        ours, node = best(signaling["python"]["throughput"]), best(signaling["node"]["throughput"])
        rows.append(
            (
                "signaling: at least half the Node reference on one process",
                f"{ours:,.0f} against {node:,.0f} signals/s: {ours / node:.2f}",
                ours >= node / 2,
            )
        )
        reached = [
            r
            for r in signaling["python"]["idle"]
            + signaling.get("pythonSlowPing", {}).get("idle", [])
            if not r.get("failed")
        ]
        most = max(reached, key=lambda r: r["connections"], default=None)
        if most:
            rows.append(
                (
                    "5,000 idle connections per process under 1 GiB",
                    f"at most {most['connections']:,} held ({most['rssMiB']:.0f} MiB)",
                    most["connections"] >= 5000 and most["rssMiB"] < 1024,
                )
            )
    lines = ["| target | measured | |", "|---|---|---|"]
    lines += [
        f"| {target} | {value} | {'met' if met else '**missed**'} |" for target, value, met in rows
    ]
    return lines


def profile_section(data):
    if not data:
        return ["*No profile: run `python -m bench.profile_signaling`.*"]
    run = data["run"]
    lines = [
        f"`python -m bench.profile_signaling`: py-spy samples the server while "
        f"{data['pairs']} pairs relay signals ({run['signalsPerSecond']:,.0f}/s, "
        f"{run['serverCores']:.2f} cores, measured {data['machine']['date']}). Each sample is "
        "filed under its innermost frame:",
        "",
        "| the server was | share of samples |",
        "|---|---|",
    ]
    lines += [f"| {name} | {share:.0f} % |" for name, share in data["sharePct"].items()]
    return lines


def main():
    setup, signaling, suite = load("browser_setup"), load("signaling"), load("suite_cost")
    before_setup, before_signaling = load("browser_setup-before"), load("signaling-before")
    machine = (signaling or {}).get("machine", {})
    IMAGES.mkdir(parents=True, exist_ok=True)
    if signaling:
        signaling_chart(signaling, IMAGES / "bench-signaling.png")
    if signaling and before_signaling and setup and before_setup:
        before_after_chart(
            signaling, before_signaling, setup, before_setup, IMAGES / "bench-before-after.png"
        )
    lines = [
        "# Benchmarks",
        "",
        "Made by `make bench` (the scripts are in [`bench/`](../bench/), their raw results in",
        "`bench/results/`). Machine: "
        f"{machine.get('cpus', '?')} cores ({machine.get('model', '?')}), "
        f"Python {machine.get('python', '?')}, Node {machine.get('node', '?')}, "
        f"{machine.get('date', '?')}. Every figure was measured on that machine; the load average",
        "next to a figure says how busy the machine was while it was taken.",
        "",
        "## Targets",
        "",
        *targets_section(setup, signaling),
        "",
        *PROSE["targets"],
        "",
        "## Connection set-up in real Chromium",
        "",
        "Timestamps are taken inside the pages (an init script hooks the peer connection events), "
        "from the last joiner's click until every page has what it needs.",
        "",
        "![Set-up times](images/bench-setup.png)",
        "",
        *setup_section(setup),
        "",
        "Where the set-up time goes, phase by phase:",
        "",
        "![Set-up phases](images/bench-setup-phases.png)",
        "",
        "## What was improved: before and after",
        "",
        *PROSE["improvements"],
        "",
        "![Before and after](images/bench-before-after.png)",
        "",
        *before_after_section(signaling, before_signaling, setup, before_setup),
        "## Signaling capacity: this server against Node socket.io",
        "",
        "The same load generator (a Node socket.io client, `bench/signaling_load.js`) drives this "
        "project's Flask-SocketIO server (threading mode, events of one client handled in order, "
        "validation and every limit but the rate limit on) and a minimal Node socket.io 4 server "
        "with the same contract (`bench/reference/server.js`), one after the other in the same "
        "run. With Redis, each pair's sender and receiver are on different processes, so every "
        "signal crosses between them.",
        "",
        *signaling_section(signaling),
        "",
        "### Where one process spends its time",
        "",
        *profile_section(load("signaling_profile")),
        "",
        *PROSE["profile"],
        "",
        "### Past one process",
        "",
        *PROSE["scaling"],
        "",
        "## Soak: churn without loss",
        "",
        "`python -m bench.soak`: clients join, exchange acknowledged signals that name their "
        "target and carry a sequence number, and leave (half with `leave`, half by "
        "disconnecting), round after round; the server's `/stats` must come back to zero.",
        "",
        *soak_section(),
        "",
        "## The cost of the test suite",
        "",
        *suite_section(suite),
        "",
        "## Mesh against server peer",
        "",
        "See [server-peer-vs-mesh.md](server-peer-vs-mesh.md).",
        "",
    ]
    PAGE.write_text("\n".join(lines))
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
