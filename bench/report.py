"""Results: medians, ratios (median of per-round ratios), JSON and markdown files."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench.measurements import Cell, RunResults
from bench.scenarios import (
    APOLLO,
    BASELINE,
    GRAPHQL_APP,
    PEERS,
    POSTGRAPHILE_EDGES,
    POSTGRAPHILE_NODES,
    SCENARIOS,
    STRAWBERRY_STOCK,
    YOGA,
)
from bench.servers import ROOT

RESULTS_DIR = ROOT / "bench" / "results"
BACKEND_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

# (label, scenario, backend, numerator kind, denominator kind): requests/s ratios.
RATIOS = [
    ("1", "a", "postgres", GRAPHQL_APP, POSTGRAPHILE_EDGES),
    ("1+", "a", "postgres", GRAPHQL_APP, POSTGRAPHILE_NODES),
    ("1+", "b", "postgres", GRAPHQL_APP, POSTGRAPHILE_EDGES),
    ("2", "a", "sqlite", GRAPHQL_APP, BASELINE),
    ("2", "a", "postgres", GRAPHQL_APP, BASELINE),
    ("2", "b", "sqlite", GRAPHQL_APP, BASELINE),
    ("2", "b", "postgres", GRAPHQL_APP, BASELINE),
    ("2+", "c", "sqlite", GRAPHQL_APP, BASELINE),
    ("2+", "c", "postgres", GRAPHQL_APP, BASELINE),
    ("2+", "d", "sqlite", GRAPHQL_APP, BASELINE),
    ("2+", "d", "postgres", GRAPHQL_APP, BASELINE),
    # Issue 14: what a team would pick instead, on the same PostgreSQL tables.
    *(("5", scenario, "postgres", GRAPHQL_APP, peer) for peer in PEERS for scenario in "abc"),
]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _command_output(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return ""
    try:
        result = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return (result.stdout or result.stderr).strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict[str, Any]:
    wrk = _command_output(["wrk", "-v"]).splitlines()
    return {
        "cpu": _cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "wrk": wrk[0] if wrk else "",
        "node": _command_output(["node", "--version"]),
        "taskset": shutil.which("taskset") is not None,
    }


def commit() -> dict[str, Any]:
    head = _command_output(["git", "rev-parse", "--short=12", "HEAD"])
    dirty = bool(_command_output(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {"commit": head, "dirty": dirty}


def closed_loop_rows(results: RunResults) -> list[dict[str, Any]]:
    rows = []
    for cell in results.closed_loop:
        rounds = cell.rounds
        rows.append(
            {
                "scenario": cell.scenario,
                "backend": cell.backend,
                "server": cell.server,
                "rps": _median([r["rps"] for r in rounds]),
                "p50_ms": _median([r["p50_ms"] for r in rounds]),
                "p99_ms": _median([r["p99_ms"] for r in rounds]),
                "rps_by_round": [round(r["rps"], 1) for r in rounds],
                "errors": sum(r["errors"] for r in rounds),
                "bad": sum(r["bad"] for r in rounds),
                "rounds": rounds,
            }
        )
    return rows


def _per_round(numerator: Cell, denominator: Cell) -> list[float]:
    below = {r["round"]: r["rps"] for r in denominator.rounds}
    return [r["rps"] / below[r["round"]] for r in numerator.rounds if below.get(r["round"])]


def ratio_rows(results: RunResults) -> list[dict[str, Any]]:
    by_key = {(c.scenario, c.backend, c.server): c for c in results.closed_loop}
    rows = []
    # (f) ÷ (a): the same page for a user of 1,000,000 todos and for one of 200.
    for backend in BACKEND_NAMES:
        big, small = (
            by_key.get(("f", backend, GRAPHQL_APP)),
            by_key.get(("a", backend, GRAPHQL_APP)),
        )
        if big is None or small is None:
            continue
        per_round = _per_round(big, small)
        rows.append(
            {
                "target": "3",
                "scenario": "f",
                "backend": backend,
                "ratio": "graphql_app, (f) ÷ (a): a page for 1,000,000 todos ÷ for 200",
                "median": _median(per_round),
                "per_round": [round(x, 3) for x in per_round],
            }
        )
    for label, scenario, backend, top, bottom in RATIOS:
        numerator, denominator = (
            by_key.get((scenario, backend, top)),
            by_key.get((scenario, backend, bottom)),
        )
        if numerator is None or denominator is None:
            continue
        per_round = _per_round(numerator, denominator)
        rows.append(
            {
                "target": label,
                "scenario": scenario,
                "backend": backend,
                "ratio": f"{top} ÷ {bottom} (requests/s)",
                "median": _median(per_round),
                "per_round": [round(x, 3) for x in per_round],
            }
        )
    return rows


def open_loop_rows(results: RunResults, closed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    capacity = {(r["scenario"], r["backend"], r["server"]): r["rps"] for r in closed}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for result in results.open_loop:
        groups.setdefault((result["scenario"], result["backend"], result["kind"]), []).append(
            result
        )
    rows = []
    for (scenario, backend, kind), measured in groups.items():
        rps = capacity.get((scenario, backend, kind))
        rows.append(
            {
                "scenario": scenario,
                "backend": backend,
                "server": kind,
                "rate": results.rate,
                "utilisation": results.rate / rps if rps else None,
                "p50_ms": _median([r["p50_ms"] for r in measured]),
                "p99_ms": _median([r["p99_ms"] for r in measured]),
                "p999_ms": _median([r["p999_ms"] for r in measured]),
                "max_ms": max(r["max_ms"] for r in measured),
                "failed": sum(r["failed"] for r in measured),
                "bad": sum(r["bad"] for r in measured),
                "send_lag_p99_ms": max(r["send_lag_p99_ms"] for r in measured),
                "rounds": measured,
            }
        )
    return rows


def login_rows(results: RunResults) -> list[dict[str, Any]]:
    rows = []
    for backend in dict.fromkeys(r["backend"] for r in results.login):
        measured = [r for r in results.login if r["backend"] == backend]
        rows.append(
            {
                "backend": backend,
                "logins_per_s": _median([r["logins_per_s"] for r in measured]),
                "login_p99_ms": _median([r["login_p99_ms"] for r in measured]),
                "bcrypt_check_ms": _median([r["bcrypt_check_s"] * 1000 for r in measured]),
                "capacity_per_s": _median([r["capacity_per_s"] for r in measured]),
                "ratio": _median([r["ratio"] for r in measured]),
                "ratio_per_round": [round(r["ratio"], 3) for r in measured],
                "page_p50_quiet_ms": _median([r["page_quiet"]["p50_ms"] for r in measured]),
                "page_p99_quiet_ms": _median([r["page_quiet"]["p99_ms"] for r in measured]),
                "page_p50_beside_login_ms": _median(
                    [r["page_under_login"]["p50_ms"] for r in measured]
                ),
                "page_p99_beside_login_ms": _median(
                    [r["page_under_login"]["p99_ms"] for r in measured]
                ),
                "login_errors": sum(r["login_errors"] + r["login_bad"] for r in measured),
                "page_failed": sum(
                    r["page_quiet"]["failed"]
                    + r["page_quiet"]["bad"]
                    + r["page_under_login"]["failed"]
                    + r["page_under_login"]["bad"]
                    for r in measured
                ),
                "rounds": measured,
            }
        )
    return rows


def to_json(results: RunResults) -> dict[str, Any]:
    """The run as results/*.json holds it: medians and ratios beside every round measured."""
    closed = closed_loop_rows(results)
    finished = results.finished or results.started
    return {
        "started_at": results.started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "elapsed_s": round(results.elapsed_s, 1),
        **results.commit,
        "machine": machine(),
        # Other work on the machine shows here: the bench's own load is about 2 while it runs.
        "load_average_before": [round(x, 2) for x in results.load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "config": results.config,
        "scenarios": SCENARIOS,
        "closed_loop": closed,
        "ratios": ratio_rows(results),
        "fixed_rate": open_loop_rows(results, closed),
        "login": login_rows(results),
        "bulk_mutations": results.bulk,
        "round_trips": results.round_trips,
        "same_json_as_baseline": results.same_json,
        "profiles": results.profiles,
        "skipped": results.skipped,
        "notes": results.notes,
    }


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


SERVER_NAMES = {
    BASELINE: "REST baseline",
    GRAPHQL_APP: "graphql_app",
    POSTGRAPHILE_EDGES: "PostGraphile 4 (edges)",
    POSTGRAPHILE_NODES: "PostGraphile 4 (nodes)",
    APOLLO: "Apollo Server 5",
    YOGA: "graphql-yoga 5",
    STRAWBERRY_STOCK: "stock Strawberry",
}


def server_name(kind: str) -> str:
    return SERVER_NAMES[kind]


def _bulk_lines(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = [
        "",
        "## (f) Bulk mutations over one user's todos, graphql_app",
        "",
        "Each mutation once, over every todo of a user (all open before "
        "setAllTodosCompleted, all completed before clearCompletedTodos), timed from the "
        "request to the answer over HTTP, the server alone on core 0.",
        "",
        "| backend | mutation | todos | seconds | answered |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        answered = row["changed"] if row["changed"] is not None else f"errors: {row['errors']}"
        lines.append(
            f"| {BACKEND_NAMES[row['backend']]} | {row['mutation']} | {row['todos']:,} | "
            f"{_num(row['seconds'])} | {answered} |"
        )
    return lines


def markdown(results: dict[str, Any], profile_md: list[str]) -> str:
    cfg = results["config"]
    lines = [
        f"# Bench results, {results['started_at']}",
        "",
        f"Commit `{results['commit']}`{' (with uncommitted changes)' if results['dirty'] else ''}; "
        f"{results['machine']['cpu']}, {results['machine']['cores']} cores; "
        f"Python {results['machine']['python']}; {results['machine']['wrk']}; "
        f"node {results['machine']['node'] or '–'}. Run took {results['elapsed_s'] / 60:.1f} min; "
        f"1-minute load average {results['load_average_before'][0]:.2f} before it "
        "(other work on the machine: the numbers are only as quiet as it was).",
        "",
        f"{cfg['rounds']} interleaved rounds; each closed-loop cell {cfg['duration']} s "
        f"({cfg['warmup']} s of warm-up before a server's first cell), "
        f"wrk with {cfg['connections']} connections on core 1, "
        "the server alone on core 0"
        + ("" if results["machine"]["taskset"] else " (NOT pinned: taskset missing)")
        + f". Fixed rate: {cfg['rate']:g} requests/s for {cfg['open_loop_duration']:g} s, "
        "latency from the scheduled send time.",
        "",
        "## Throughput (closed loop, wrk)",
        "",
        "Medians over rounds. p50/p99 here include queueing behind 32 connections.",
        "",
        "| scenario | backend | server | req/s | p50 ms | p99 ms | req/s by round | errors |",
        "|---|---|---|---:|---:|---:|---|---:|",
    ]
    for row in results["closed_loop"]:
        lines.append(
            f"| ({row['scenario']}) | {BACKEND_NAMES[row['backend']]} | "
            f"{server_name(row['server'])} | {_num(row['rps'], 0)} | {_num(row['p50_ms'])} | "
            f"{_num(row['p99_ms'])} | {', '.join(f'{x:,.0f}' for x in row['rps_by_round'])} | "
            f"{row['errors'] + row['bad']} |"
        )
    lines += [
        "",
        "## Ratios",
        "",
        "Each ratio is the median of the per-round ratios. Targets of the issue: "
        "(1) graphql_app ÷ PostGraphile, (2) graphql_app ÷ baseline, (3) a page for a "
        "user of 1,000,000 todos ÷ the same page for one of 200 (at least 0.8), "
        "(5) graphql_app ÷ each peer serving its fields on the same PostgreSQL tables "
        "(Apollo Server 5, graphql-yoga 5, stock Strawberry); `+` rows are extra.",
        "",
        "| # | scenario | backend | ratio | median | by round |",
        "|---|---|---|---|---:|---|",
    ]
    for row in results["ratios"]:
        lines.append(
            f"| {row['target']} | ({row['scenario']}) | {BACKEND_NAMES[row['backend']]} | "
            f"{row['ratio']} | **{_num(row['median'], 3)}** | "
            f"{', '.join(str(x) for x in row['per_round'])} |"
        )
    for row in results["login"]:
        lines.append(
            f"| 4 | (e) | {BACKEND_NAMES[row['backend']]} | logIn/s with 2 workers ÷ "
            f"(2 ÷ one bcrypt check) | **{_num(row['ratio'], 3)}** | "
            f"{', '.join(str(x) for x in row['ratio_per_round'])} |"
        )
    lines += [
        "",
        f"## Latency at a fixed rate ({cfg['rate']:g} requests/s, open loop)",
        "",
        "Scenario (a). `load` is the fixed rate ÷ the server's closed-loop req/s: "
        "well under 1, the p99 is service time, not queueing.",
        "",
        "| scenario | backend | server | load | p50 ms | p99 ms | p99.9 ms | max ms | failed |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["fixed_rate"]:
        lines.append(
            f"| ({row['scenario']}) | {BACKEND_NAMES[row['backend']]} | "
            f"{server_name(row['server'])} | {_num(row['utilisation'])} | "
            f"{_num(row['p50_ms'])} | {_num(row['p99_ms'])} | {_num(row['p999_ms'])} | "
            f"{_num(row['max_ms'])} | {row['failed'] + row['bad']} |"
        )
    if results["login"]:
        lines += [
            "",
            "## (e) logIn at bcrypt cost 12, graphql_app with 2 workers on both cores",
            "",
            "Measured once, after the last round. "
            f"{cfg['login_connections']} wrk connections logging in without pause; beside them "
            f"one client sends (a) at {cfg['rate']:g} requests/s (open loop). "
            "Capacity = 2 cores ÷ one bcrypt check measured in the same run.",
            "",
            "| backend | logIn/s | logIn p99 ms | one bcrypt check ms | capacity/s | ratio "
            "| (a) p50 / p99 ms alone | (a) p50 / p99 ms beside logIn | errors |",
            "|---|---:|---:|---:|---:|---:|---|---|---:|",
        ]
        for row in results["login"]:
            lines.append(
                f"| {BACKEND_NAMES[row['backend']]} | {_num(row['logins_per_s'])} | "
                f"{_num(row['login_p99_ms'], 0)} | {_num(row['bcrypt_check_ms'], 0)} | "
                f"{_num(row['capacity_per_s'])} | {_num(row['ratio'], 3)} | "
                f"{_num(row['page_p50_quiet_ms'])} / {_num(row['page_p99_quiet_ms'])} | "
                f"{_num(row['page_p50_beside_login_ms'])} / "
                f"{_num(row['page_p99_beside_login_ms'])} | "
                f"{row['login_errors'] + row['page_failed']} |"
            )
    lines += _bulk_lines(results["bulk_mutations"])
    if results["round_trips"]:
        lines += [
            "",
            "## Storage round trips per request (in-process, httpx ASGITransport)",
            "",
            "| scenario | backend | first=5 | first=100 | constant |",
            "|---|---|---:|---:|---|",
        ]
        for row in results["round_trips"]:
            counts = row["by_first"]
            lines.append(
                f"| ({row['scenario']}) `{row['query']}` | {BACKEND_NAMES[row['backend']]} | "
                f"{counts.get(5, counts.get('5'))} | {counts.get(100, counts.get('100'))} | "
                f"{'yes' if row['constant'] else '**no**'} |"
            )
    if results["same_json_as_baseline"]:
        checked = results["same_json_as_baseline"]
        same = all(r["same"] for r in checked)
        servers = dict.fromkeys(server_name(r.get("server", GRAPHQL_APP)) for r in checked)
        lines += [
            "",
            "The baseline's JSON was "
            + ("identical to" if same else "**not** identical to")
            + f" the JSON of {', '.join(servers)} for every read scenario checked"
            + ("." if same else "; see the notes and skips below."),
        ]
    if results["skipped"] or results["notes"]:
        lines += ["", "## Skipped and notes", ""]
        lines += [f"- skipped {s['what']}: {s['reason']}" for s in results["skipped"]]
        lines += [f"- {note}" for note in results["notes"]]
    if profile_md:
        lines += ["", "## Profile (py-spy)", "", *profile_md]
    lines += [
        "",
        "Scenarios: " + "; ".join(f"({k}) {v}" for k, v in results["scenarios"].items()) + ".",
        "",
    ]
    return "\n".join(lines)


def latest_name(quick: bool) -> str:
    """`latest` for real runs; a --quick smoke run never replaces their numbers."""
    return "latest-quick" if quick else "latest"


def write(measured: RunResults, directory: Path = RESULTS_DIR) -> dict[str, Any]:
    """Write the run's JSON and markdown (timestamped and latest); return the JSON's object."""
    results = to_json(measured)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = measured.started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if measured.quick else "")
    latest = latest_name(measured.quick)
    text = json.dumps(results, indent=2, default=str) + "\n"
    md = markdown(results, measured.profile_md)
    for name, content in (
        (f"{stamp}.json", text),
        (f"{stamp}.md", md),
        (f"{latest}.json", text),
        (f"{latest}.md", md),
    ):
        (directory / name).write_text(content, encoding="utf-8")
    return results
