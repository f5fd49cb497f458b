"""Writes docs/benchmarks.md from the results in bench/results/ (run by `make bench` after the
measurements; `python -m bench.report` alone rewrites the page from the last results)."""

import json
import statistics

from bench.signaling_capacity import RESULTS, ROOT

PAGE = ROOT / "docs" / "benchmarks.md"
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


def signaling_section(data):
    if not data:
        return ["*No results: run `python -m bench.signaling_capacity`.*"]
    lines = [
        f"Window: {data['window']} acknowledged signals in flight per sender; "
        f"load average {data['machine']['loadAverage'][0]:.1f} at the start.",
        "",
        "| server | pairs | signals/s | ack p50 ms | ack p99 ms | server cores | server RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("python", "node"):
        for run in data[name]["throughput"]:
            lines.append(
                f"| {name} | {run['pairs']} | {run['signalsPerSecond']:.0f} "
                f"| {run['ackP50Ms']:.1f} | {run['ackP99Ms']:.1f} | {run['serverCores']:.2f} "
                f"| {run['serverPeakRssMiB']:.0f} |"
            )
    best = {
        n: max(r["signalsPerSecond"] for r in data[n]["throughput"]) for n in ("python", "node")
    }
    lines += [
        "",
        f"Best throughput: Python {best['python']:.0f}/s, Node {best['node']:.0f}/s, a ratio of "
        f"{best['python'] / best['node']:.2f}.",
        "",
        "| server | idle connections | RSS MiB | per connection KiB | seconds to connect |",
        "|---|---|---|---|---|",
    ]
    for name in ("python", "node"):
        for idle in data[name]["idle"]:
            if idle.get("failed"):
                lines.append(f"| {name} | {idle['requested']}: connections timed out | | | |")
                continue
            lines.append(
                f"| {name} | {idle['connections']} | {idle['rssMiB']:.0f} "
                f"| {idle['perConnectionKiB']:.0f} | {idle['connectSeconds']:.1f} |"
            )
    return lines


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


def main():
    setup, signaling, suite = load("browser_setup"), load("signaling"), load("suite_cost")
    machine = (signaling or {}).get("machine", {})
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
        "## Connection set-up in real Chromium",
        "",
        "Timestamps are taken inside the pages (an init script hooks the peer connection events), "
        "from the last joiner's click until every page has what it needs.",
        "",
        "![Set-up times](images/bench-setup.png)",
        "",
        *setup_section(setup),
        "",
        "## Signaling capacity: this server against Node socket.io",
        "",
        "The same load generator (a Node socket.io client, `bench/signaling_load.js`) drives this "
        "project's Flask-SocketIO server (threading mode, events of one client handled in order) "
        "and a minimal Node socket.io 4 server with the same contract "
        "(`bench/reference/server.js`), one after the other in the same run.",
        "",
        *signaling_section(signaling),
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
