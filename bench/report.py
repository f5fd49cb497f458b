"""Fills in the tables of docs/benchmarks.md (and docs/server-peer-vs-mesh.md) from bench/results.

Each generated part of the page lies between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`
and is rewritten from the last results, with their date, machine and load average; a part
without results stays as it is, and so does everything outside the markers (the methods, what
the figures mean, the history of 2026-11-21). The room load's chart, docs/images/room-load.svg,
is drawn again from its results too (`room_load_chart`: an SVG written by hand, no plotting
library).

    .venv/bin/python -m bench.report
"""

import logging
import math
import re
import statistics

from bench import shared

# The pages whose markers are filled in (the room load table is in the second).
PAGES = [shared.ROOT / "docs" / name for name in ("benchmarks.md", "server-peer-vs-mesh.md")]
SETUP = {  # key: (label, the target for its median in ms)
    "step1_floor": ("step 1: in-page offer to open (the floor)", None),
    "step2_join_open": ("step 2: two pages, join to open", "5x the floor"),
    "step4_mesh_2": ("step 4: mesh of 2, join to all open", None),
    "step4_mesh_4": ("step 4: mesh of 4", None),
    "step4_mesh_6": ("step 4: mesh of 6", None),
    "step4_mesh_8": ("step 4: mesh of 8", 500),
    "step5_frame_2": ("step 5: 2 pages, join to first frames", 200),
    "step5_frame_3": ("step 5: 3 pages", 200),
    "step5_frame_4": ("step 5: 4 pages", 200),
    "step6_open_3": ("step 6: 3 pages, join to channel open", None),
    "step6_message_3": ("step 6: 3 pages, join to first message", None),
    "step6_frame_3": ("step 6: 3 pages, join to first frames", 200),
}
MESSAGES = {
    "step2_rtt": "data channel round trip (step 2)",
    "step4_fanout_4": "group fan-out, 4 members (step 4)",
    "step4_fanout_8": "group fan-out, 8 members (step 4)",
}
# room_load's chart: its file, its panels, its designs' colours
CHART = shared.ROOT / "docs" / "images" / "room-load.svg"
CHART_TITLE = "Server CPU and each member's downlink against the room size, forwarding and mixing"
CHART_PANELS = [  # (row key, scale, title, unit)
    ("cpu", 100, "Server CPU", "% of one core"),
    ("downlink_kbps", 1, "Each member's downlink (RTP payload)", "kbit/s"),
]
COLOURS = {"forwarding": "#1f6fb4", "mixing": "#d2561e", "decode and encode": "#7a7a7a"}
SERVERS = {  # room_load's designs, as its text names them
    "forwarding": "step 6's server (*forwarding*, an SFU)",
    "mixing": "step 13's (*mixing*, an MCU)",
    "decode and encode": "step 6 of commit 967e039 (*decode and encode*)",
}
PANEL = (440, 300)  # width and height of one chart, in pixels
BEST = ("Python, 1 process", "Node reference")  # the signaling target compares their best runs


# The targets of the suite's cost (docs/benchmarks.md says why).
CHECK_FIRST_FAILURE_S = 15
CHECK_PASS_S = 20
SUITE_S = 480


def table(header, rows):
    return [header, "|---" * (header.count(" | ") + 1) + "|", *rows]


def measured(info):
    """When, on what, and how busy the machine was (as much of it as the results say)."""
    text = f"measured {info['date']} on {info['cores']} cores ({info['cpu']})"
    if "load" in info:
        text += f"; 1-minute load average {info['load']:.1f} at the start"
    return text + (f", {info['load_end']:.1f} at the end" if "load_end" in info else "")


def median(scenarios, key):
    return scenarios[key]["summary"]["median"] if key in scenarios else None


def best(configs, label):
    return max((run["signalsPerSecond"] for run in dict(configs).get(label, [])), default=0)


def limit(scenarios, key):
    """The target for a scenario's median, in ms (step 2's: five times the floor's)."""
    if SETUP[key][1] == "5x the floor":
        return 5 * median(scenarios, "step1_floor") if "step1_floor" in scenarios else None
    return SETUP[key][1]


def targets(scenarios, signaling):
    rows = []  # (target, what was measured, met)
    for key, (label, _) in SETUP.items():
        if key in scenarios and (ms := limit(scenarios, key)):
            s = scenarios[key]["summary"]
            text = f"median {s['median']:.0f} ms, p90 {s['p90']:.0f} ms"
            rows.append((f"{label}: under {ms:.0f} ms", text, s["median"] < ms))
    if "throughput" in signaling:
        ours, node = (best(signaling["throughput"]["configs"], label) for label in BEST)
        text = f"{ours:,.0f} against {node:,.0f} signals/s: {ours / node:.2f}"
        rows.append(
            ("signaling: at least half the Node reference on one process", text, ours >= node / 2)
        )
    idle = [runs for name, runs in signaling.get("idle", {}).get("configs", []) if "Python" in name]
    if held := [run for runs in idle for run in runs if not run.get("failed")]:
        most = max(held, key=lambda run: run["connections"])
        text = f"at most {most['connections']:,} held ({most['rssMiB']:.0f} MiB)"
        met = most["connections"] >= 5000 and most["rssMiB"] < 1024
        rows.append(("5,000 idle connections per process under 1 GiB", text, met))
    lines = [
        f"| {target} | {text} | {'met' if met else '**missed**'} |" for target, text, met in rows
    ]
    return table("| target | measured | |", lines)


def setup(results):
    scenarios, rows, messages = results["scenarios"], [], []
    for key, (label, goal) in SETUP.items():
        if s := scenarios.get(key, {}).get("summary"):
            goal = f"under {goal} ms" if isinstance(goal, int) else f"within {goal}" if goal else ""
            load = statistics.median(scenarios[key]["load"])
            cells = f"{s['median']:.0f} | {s['p90']:.0f} | {s['n']} | {goal} | {load:.1f}"
            rows.append(f"| {label} | {cells} |")
    for key, label in MESSAGES.items():
        if s := scenarios.get(key, {}).get("summary"):
            messages.append(f"| {label} | {s['median']:.1f} | {s['p90']:.1f} | {s['n']} |")
    info = next(iter(scenarios.values()))["machine"]
    return [
        f"The last group of runs finished {results['updated']}, on {info['cores']} cores "
        f"({info['cpu']}); the last column is the median 1-minute load average of each row's runs.",
        "",
        *table("| scenario | median ms | p90 ms | runs | target | load (1 min) during |", rows),
        "",
        *table("| message | median ms | p90 ms | samples |", messages),
    ]


def throughput(part):
    ours, node = (best(part["configs"], label) for label in BEST)
    row = "| {} | {pairs} | {signalsPerSecond:,.0f} | {ackP50Ms:.1f} | {ackP99Ms:.1f} "
    row += "| {serverCores:.2f} | {serverPeakRssMiB:.0f} |"
    header = (
        "| server | pairs | signals/s | ack p50 ms | ack p99 ms | server cores | server RSS MiB |"
    )
    return [
        f"Throughput {measured(part['machine'])}; window: {part['window']} acknowledged signals "
        "in flight per sender.",
        "",
        *table(header, [row.format(label, **r) for label, runs in part["configs"] for r in runs]),
        "",
        f"Best throughput on one process: Python {ours:,.0f}/s, Node {node:,.0f}/s, a ratio of "
        f"**{ours / node:.2f}** (target: at least 0.5).",
    ]


def idle(part):
    row = "| {} | {connections:,} | {rssMiB:.0f} | {perConnectionKiB:.0f} | {connectSeconds:.1f} |"
    failed = "| {} | {requested}: **not reached** (connections timed out) | | | |"
    runs = [(label, r) for label, runs in part["configs"] for r in runs]
    rows = [(failed if r.get("failed") else row).format(label, **r) for label, r in runs]
    header = "| server | idle connections | RSS MiB | per connection KiB | seconds to connect |"
    return [f"Idle connections {measured(part['machine'])}.", "", *table(header, rows)]


def soak(data):
    header = "| round | seconds | signals sent | received | lost | misdelivered | out of order "
    header += "| errors | ack p50 ms | ack p99 ms | ack max ms | server RSS MiB | after round |"
    row = "| {number} | {seconds:.1f} | {signals_sent} | {signals_received} | {lost} "
    row += "| {misdelivered} | {out_of_order} | {error_count} | {ack_p50:.1f} | {ack_p99:.1f} "
    row += "| {ack_max:.1f} | {rss_mib:.1f} | {stats_after} |"
    settings = f"{data['clients']} clients in {data['rooms']} rooms, {data['signals']} signals each"
    intro = f"Soak: {settings}, {data['rounds']} rounds, {measured(data['machine'])}."
    return [intro, "", *table(header, [row.format(**r) for r in data["per_round"]])]


def suite(data):
    lines = []
    if checks := data.get("checks"):
        figures = checks["figures"]
        runs = max(len(step["pass_s"]) for step in figures.values())

        def seconds(value, target):
            return (
                "none" if value is None else f"{value:.1f}" + (" (over)" if value > target else "")
            )

        rows = [
            f"| {n} | {seconds(step['first_failure_median_s'], CHECK_FIRST_FAILURE_S)} | "
            f"{seconds(step['pass_median_s'], CHECK_PASS_S)} | {step.get('measured', '')} |"
            for n, step in figures.items()
        ]
        rows.append(f"| target | at most {CHECK_FIRST_FAILURE_S} | at most {CHECK_PASS_S} | |")
        header = (
            "| `STEP=N make check` | first ✗ of the starting point, s | finished step, all ✓, s "
            "| measured (1-minute load) |"
        )
        machine = checks["machine"]
        title = (
            f"`make check` in Chromium (its default), medians of {runs} runs alternated, on "
            f"{machine['cores']} cores ({machine['cpu']}); each row says when it was measured"
        )
        lines += [f"{title}:", "", *table(header, rows), ""]
    if steps := data.get("steps"):
        rows = [
            f"| {n} | {statistics.median(r['wall_s'] for r in by['chromium']):.0f} | "
            f"{statistics.median(r['wall_s'] for r in by['firefox']):.0f} |"
            for n, by in steps["figures"].items()
        ]
        title = "`STEP=N make test` in one browser (BROWSERS=chromium, then firefox)"
        header = "| step | Chromium s | Firefox s |"
        lines += [f"{title}, {measured(steps['machine'])}:", "", *table(header, rows), ""]
    if whole := data.get("suite"):
        run, peak = whole["figures"], whole["figures"]["peak"]
        outcome = ", ".join(f"{count} {word}" for word, count in run["outcome"].items())
        lines.append(
            f"`make test`, both browsers and the mixed pairs: **{run['wall_s']:.0f} s** "
            f"(target: at most {SUITE_S} s), {outcome}; its browsers at most "
            f"{peak.get('browser_pss_mib', 0):.0f} MiB PSS ({peak.get('browser_rss_mib', 0):.0f} "
            f"MiB RSS, {peak.get('browser_processes', 0)} processes); {measured(whole['machine'])}."
        )
    return lines


def file_transfer(data):
    header = "| sender to receiver | bytes through, MiB/s | checked, MiB/s | most buffered |"
    row = "| {0} | {1[bytes_mib_s]:.1f} | {1[checked_mib_s]:.1f} | {2:.0f} KiB |"
    rows = [
        row.format(pair, median, max(r["max_buffered"] for r in data["runs"][pair]) / 1024)
        for pair, median in data["medians"].items()
    ]
    runs = len(next(iter(data["runs"].values())))
    return [
        f"A {data['mib']} MiB file, {runs} runs per pair (medians), {measured(data['machine'])}.",
        "",
        *table(header, rows),
    ]


def recording(data):
    header = "| run | server CPU in the call | while recording | file | seconds | frames | fps "
    header += "| sound s | MiB |"
    rows = []
    for number, run in enumerate(data["runs"], 1):
        for index, file in enumerate(run["files"]):
            cpu = (
                (f"{run['cpu_call']:.0%}", f"{run['cpu_recording']:.0%}")
                if index == 0
                else ("", "")
            )
            rows.append(
                f"| {number if index == 0 else ''} | {cpu[0]} | {cpu[1]} | {index + 1} "
                f"| {file['seconds']} | {file['frames']} | {file['frames'] / file['seconds']:.1f} "
                f"| {file['sound_s']} | {file['mib']:.2f} |"
            )
    medians = data["medians"]
    return [
        f"{len(data['runs'])} runs of {data['seconds']:.0f} s, {measured(data['machine'])}. "
        f"Median: {medians['fps']} frames a second in a file (the pages send at most 15), "
        f"{medians['sound_share']:.0%} of the time recorded as sound; the server peer used "
        f"{medians['cpu_call']:.0%} of a core in the call and {medians['cpu_recording']:.0%} "
        "while recording it.",
        "",
        *table(header, rows),
    ]


def recording_stall(data):
    """bench/recording_stall.py: the longest gap between forwarded frames, recording or not."""
    args = data["args"]
    rows = [
        f"| {commit} | {v['baseline_gap_ms']:.0f} | {v['recording_gap_ms']:.0f} "
        f"| {v['fps_recording']:.1f} |"
        for commit, v in data["summary"].items()
    ]
    return [
        f"{args['runs']} runs of each, in turn: {args['seconds']:.0f} s of call, then "
        f"{args['cycles']} recordings of {args['hold']:.0f} s started and stopped; "
        f"{measured(data['machine'])}; `{data['command']}`. Medians over the runs of the longest "
        "gap between two of Ann's frames at Bob (she sends 15 a second: 67 ms apart).",
        "",
        *table(
            "| step 10 as of | longest gap, no recording, ms | longest gap while recordings "
            "start and stop, ms | frames a second, recording |",
            rows,
        ),
    ]


def e2ee(data):
    header = "| browser | run | step 6: CPU | step 15: CPU | step 15 / step 6 "
    header += "| received fps, step 6 (median / min) | step 15 | frames through the worker per s |"
    rows, summaries = [], []
    for name in ("chromium", "firefox"):
        if name not in data:
            continue
        part = data[name]
        for number, (plain, sealed) in enumerate(zip(*part["runs"].values(), strict=True), 1):
            rows.append(
                f"| {name.capitalize() if number == 1 else ''} | {number} | {plain['cpu']:.0%} "
                f"| {sealed['cpu']:.0%} | {sealed['cpu'] / plain['cpu']:.2f} "
                f"| {plain['fps_median']} / {plain['fps_min']} "
                f"| {sealed['fps_median']} / {sealed['fps_min']} | {sealed['frames_per_s']:.0f} |"
            )
        summaries.append(
            f"{name.capitalize()}: step 15 used {part['cpu_ratio_median']:.2f} times the CPU of "
            f"step 6 (median of the paired runs), {part['extra_cpu_median']:.0%} of a core more "
            f"for the room of four, {part['ms_per_frame_median']:.2f} ms of CPU per frame "
            "encrypted or decrypted; the frame rates did not change."
        )
    return [
        f"{data['pages']} pages in one browser, {len(data['chromium']['runs']['6'])} runs of "
        f"{data['seconds']:.0f} s of each step, back to back, {measured(data['machine'])}; "
        f"load {data['load_after']} at the end.",
        "",
        *table(header, rows),
        "",
        " ".join(summaries),
    ]


def lobby(data):
    rows = []
    for key, label in (("latency_one", "one process"), ("latency_redis", "two processes, Redis")):
        part = data[key]
        rows.append(
            f"| {label} | {part['n']} | {part['median']:.0f} | {part['p90']:.0f} "
            f"| {part['max']:.0f} |"
        )
    burst, quiet = data["burst"], data["idle"]
    return [
        f"Python socket.io clients on 127.0.0.1, {measured(data['machine'])}; load "
        f"{data['load_after']} at the end.",
        "",
        *table("| step 12 | joins | median ms | p90 ms | max ms |", rows),
        "",
        f"A burst of {burst['joins']} joins, each opening a room, over {burst['join_seconds']} s: "
        f"the watcher got {burst['pushes']} lists ({burst['pushes_per_join']} per join). "
        f"{quiet['watchers']} connections while nothing changed, {quiet['seconds']:.0f} s each: "
        f"the server used {quiet['cpu_connected']:.1%} of a core with them only connected "
        f"(socket.io's pings) and {quiet['cpu_watching']:.1%} with all of them watching the "
        f"lobby, which sent {quiet['lists']} lists.",
    ]


def room_load(data):
    """bench/room_load.py's rows, by design then room size, with the chart and the targets."""
    header = "| design | members | server CPU | fps median / min | downlink per member, kbit/s "
    header += "| join → first frame, median / max ms | members' CPU | idle cores | load |"
    rows = []
    for design, by_size in designs(data["rows"]).items():
        for index, r in enumerate(by_size):
            cells = [design if index == 0 else "", str(r["size"])]
            if "failed" in r:
                cells += [f"**failed**: {r['failed']}", *[""] * 5]
            else:
                first = f"{s['median']} / {s['max']}" if (s := r["newcomer_ms"]) else ""
                cells[1] += "" if r["complete"] else " (**incomplete**)"
                cells += [f"{r['cpu']:.0%}", f"{r['fps_median']:.1f} / {r['fps_min']:.1f}"]
                cells += [str(r.get("downlink_kbps", "")), first]
                cells += [f"{r['members_cpu']:.0%}", f"{r['idle_cores']:.2f}"]
            rows.append(f"| {' | '.join(cells)} | {r['load']:.1f} |")
    verdicts = {True: ": met", False: ": **missed**", None: ""}
    checks = [
        f"- {c['target']}: {c['measured']}{verdicts[c['met']]}" for c in data.get("targets", [])
    ]
    command = data.get("command", ".venv/bin/python -m bench.room_load")
    servers = " and ".join(SERVERS.get(d, d) for d in designs(data["rows"]))
    return [
        f"{servers[0].upper()}{servers[1:]} with rooms of synthetic members (aiortc peers sending "
        "VP8 320x240 at 15 fps and Opus), "
        f"{data['seconds']:.0f} s of measurement per row, {measured(data['machine'])}; "
        f"`{command}`. Server CPU is a share of one core. fps: forwarding, over every video "
        "every member receives (one per other member); mixing, the composed picture at every "
        "member. Downlink: the RTP payload a member received, video and sound (retransmissions "
        "included; RTP headers, SRTP and RTCP not), the median over the members. Join → first "
        "frame: from the last member's offer to the first frame at it of each other member "
        "(forwarding) or of the composed picture (mixing, one value). Members' CPU is all the "
        "members together, on the same machine, and idle cores what the machine had left during "
        "the measurement (near 0: the figures show the machine's limit); the last column is the "
        "load as each row started.",
        "",
        f"![{CHART_TITLE}](images/{CHART.name})",
        "",
        *table(header, rows),
        *(["", "Targets (issue 24), as checked by the run:", "", *checks] if checks else []),
    ]


def broadcast_load(data):
    """bench/broadcast_load.py's rows: one publisher, 10 to 100 viewers, step 14's server."""
    header = "| viewers | server CPU | CPU per viewer | fps median / min | sound packets/s "
    header += "| join → first frame, median / max ms | viewers' CPU | idle cores | load |"
    rows = []
    for r in data["rows"]:
        if "failed" in r:
            rows.append(f"| {r['viewers']} | **failed**: {r['failed']} | | | | | | | |")
            continue
        first = f"{s['median']} / {s['max']}" if (s := r["first_frame_ms"]) else ""
        complete = "" if r["complete"] else " (**incomplete**)"
        rows.append(
            f"| {r['viewers']}{complete} | {r['cpu']:.0%} | {r['cpu_per_viewer']:.2%} "
            f"| {r['fps_median']:.1f} / {r['fps_min']:.1f} | {r['audio_median']:.0f} | {first} "
            f"| {r['viewers_cpu']:.0%} | {r['idle_cores']:.2f} | {r['load']:.1f} |"
        )
    verdicts = {True: ": met", False: ": **missed**", None: ""}
    checks = [f"- {c['target']}: {c['measured']}{verdicts[c['met']]}" for c in data["targets"]]
    return [
        "Step 14's server with one publisher (an aiortc peer sending VP8 640x480 at 15 fps and "
        "Opus, pre-encoded) and synthetic WHEP viewers (aiortc peers in 4 processes that count "
        f"packets, not decode them), {data['seconds']:.0f} s of measurement per row, each row "
        f"with a fresh server, {measured(data['machine'])}; `{data['command']}`. Server CPU is a "
        "share of one core. fps: the video frames a second each viewer received; join → first "
        "frame: from a viewer's POST to its first video frame, the viewers joining one after the "
        "other. Viewers' CPU is their processes together, on the same machine; idle cores what "
        "the machine had left.",
        "",
        *table(header, rows),
        "",
        "Target (issue 25), as checked by the run:",
        "",
        *checks,
    ]


def designs(rows):
    """{design: its rows by room size}, the designs in the order they ran."""
    by = {r["design"]: [] for r in rows}
    for r in sorted(rows, key=lambda r: r["size"]):
        by[r["design"]].append(r)
    return by


def room_load_chart(data):
    """The SVG of docs/images/room-load.svg, drawn from the rows (no plotting library): server
    CPU and each member's downlink against the room size, side by side, a line per design."""
    rows = [r for r in data["rows"] if "failed" not in r]
    sizes = sorted({r["size"] for r in rows})
    if not sizes:
        return None
    width, height = 2 * PANEL[0], PANEL[1] + 40
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{CHART_TITLE}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    x = 20
    for design in designs(rows):  # the legend, across the top
        colour = COLOURS.get(design, "black")
        svg.append(
            f'<line x1="{x}" y1="16" x2="{x + 24}" y2="16" stroke="{colour}" stroke-width="2.5"/>'
        )
        svg.append(f'<text x="{x + 30}" y="20">{design}</text>')
        x += 40 + 8 * len(design)
    for index, (key, scale, title, unit) in enumerate(CHART_PANELS):
        lines = {
            design: [(r["size"], r[key] * scale) for r in by_size if r.get(key) is not None]
            for design, by_size in designs(rows).items()
        }
        svg += panel(index * PANEL[0], 40, (title, unit), lines, sizes)
    return "\n".join([*svg, "</svg>", ""])


def panel(left, top, labels, lines, sizes):
    """One chart: `lines` is {design: [(room size, value)]}, the room sizes along the x axis;
    `labels` are its title and the unit of its values."""
    title, unit = labels
    x0, x1, y0, y1 = left + 64, left + PANEL[0] - 24, top + PANEL[1] - 56, top + 28
    steps = ticks(max((v for points in lines.values() for _, v in points), default=1))
    first, span = sizes[0], max(sizes[-1] - sizes[0], 1)

    def x(size):
        return round(x0 + (size - first) / span * (x1 - x0) if sizes[1:] else (x0 + x1) / 2, 1)

    def y(value):
        return round(y0 - value / steps[-1] * (y0 - y1), 1)

    middle = (x0 + x1) / 2
    bold = 'text-anchor="middle" font-weight="bold"'
    out = [f'<text x="{middle}" y="{top + 14}" {bold}>{title}</text>']
    for step in steps:  # the value axis: grid lines and their labels
        out.append(f'<line x1="{x0}" y1="{y(step)}" x2="{x1}" y2="{y(step)}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y(step) + 4}" text-anchor="end">{step:g}</text>')
    for size in sizes:
        out.append(f'<line x1="{x(size)}" y1="{y0}" x2="{x(size)}" y2="{y0 + 4}" stroke="black"/>')
        out.append(f'<text x="{x(size)}" y="{y0 + 18}" text-anchor="middle">{size}</text>')
    out.append(f'<polyline points="{x0},{y1} {x0},{y0} {x1},{y0}" fill="none" stroke="black"/>')
    out.append(f'<text x="{middle}" y="{y0 + 36}" text-anchor="middle">members in the room</text>')
    turn = f"rotate(-90 {left + 16} {(y0 + y1) / 2})"
    out.append(
        f'<text x="{left + 16}" y="{(y0 + y1) / 2}" text-anchor="middle" transform="{turn}">'
        f"{unit}</text>"
    )
    for design, points in lines.items():
        if not points:
            continue
        colour = COLOURS.get(design, "black")
        xy = " ".join(f"{x(size)},{y(value)}" for size, value in points)
        out.append(f'<polyline points="{xy}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for size, value in points:
            out.append(f'<circle cx="{x(size)}" cy="{y(value)}" r="3.5" fill="{colour}"/>')
    return out


def ticks(top):
    """Round steps from 0 to `top` or just above: 1, 2 or 5 times a power of ten apart."""
    top = top if top > 0 else 1
    unit = 10 ** math.floor(math.log10(top / 5))
    step = next(unit * factor for factor in (1, 2, 5, 10) if unit * factor * 5 >= top)
    return [step * i for i in range(math.ceil(top / step - 1e-9) + 1)]


def main():
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    browser, signaling = shared.load("browser_setup"), shared.load("signaling") or {}
    scenarios = (browser or {}).get("scenarios", {})
    parts = {"targets": targets(scenarios, signaling) if scenarios or signaling else None}
    if info := (signaling.get("throughput") or signaling.get("idle") or {}).get("machine"):
        versions = f"Python {info['python']}, Node {info['node']}"
        parts["machine"] = [f"Machine: {info['cores']} cores ({info['cpu']}), {versions}."]
    for name, data, write in (
        ("setup", browser, setup),
        ("throughput", signaling.get("throughput"), throughput),
        ("idle", signaling.get("idle"), idle),
        ("soak", shared.load("soak"), soak),
        ("suite", shared.load("suite_cost"), suite),
        ("file_transfer", shared.load("file_transfer"), file_transfer),
        ("recording", shared.load("recording"), recording),
        ("recording_stall", shared.load("recording_stall"), recording_stall),
        ("room_load", shared.load("room_load"), room_load),
        ("e2ee", shared.load("e2ee_cost"), e2ee),
        ("lobby", shared.load("lobby"), lobby),
        ("broadcast", shared.load("broadcast_load"), broadcast_load),
    ):
        parts[name] = write(data) if data else None
    if (room := shared.load("room_load")) and (chart := room_load_chart(room)):
        CHART.write_text(chart)
        logging.info("wrote %s", CHART.relative_to(shared.ROOT))
    for path in PAGES:
        page = path.read_text()
        for name, lines in parts.items():
            if lines:  # a part without results stays as it is
                text = "\n".join(["", *lines, "", ""])
                pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
                page = pattern.sub(lambda m, text=text: m[1] + text + m[2], page)
        path.write_text(page)
        logging.info("wrote %s", path.relative_to(shared.ROOT))


if __name__ == "__main__":
    main()
