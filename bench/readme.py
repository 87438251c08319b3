"""README.md's performance figures, written from bench/results/latest.json.

The README's "Performance" section holds a block between two markers that only
this module writes: `python -m bench` rewrites it after a full run, and
`python -m bench --render-readme` rewrites it from the latest.json already
there. `tests/test_bench.py` fails when the block differs from what latest.json
renders, so a figure copied or corrected by hand does not survive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.report import BACKEND_NAMES, RESULTS_DIR, latest_name, server_name
from bench.scenarios import BASELINE, GRAPHQL_APP, PEERS, POSTGRAPHILE_EDGES
from bench.servers import ROOT

README = ROOT / "README.md"
LATEST_JSON = RESULTS_DIR / f"{latest_name(quick=False)}.json"
START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
NOTE = (
    "<!-- Written by `python -m bench` from bench/results/latest.json, not by hand: "
    "`python -m bench --render-readme` rewrites it (bench/readme.py). -->"
)
NONE = "—"


class MarkersMissing(ValueError):
    """The README has no block to write (or the markers are out of order)."""


def load_latest(path: Path = LATEST_JSON) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _by_backend(rows: list[dict[str, Any]], **match: str) -> dict[str, dict[str, Any]]:
    return {
        row["backend"]: row
        for row in rows
        if all(row.get(key) == value for key, value in match.items())
    }


def _ratio(results: dict[str, Any], scenario: str, top: str, bottom: str) -> dict[str, Any]:
    name = f"{top} ÷ {bottom} (requests/s)"
    return _by_backend(results["ratios"], scenario=scenario, ratio=name)


def _cells(by_backend: dict[str, dict[str, Any]], key: str, fmt: str, unit: str = "") -> str:
    cells = []
    for backend in BACKEND_NAMES:
        value = by_backend.get(backend, {}).get(key)
        cells.append(NONE if value is None else f"{value:{fmt}}{unit}")
    return " | ".join(cells)


def _crowd_lines(results: dict[str, Any]) -> list[str]:
    """Scenario (f): the page for a user of a million todos, and the bulk mutations."""
    config = results["config"]
    big = config.get("big_todos", 0)
    ratios = {
        row["backend"]: row["median"]
        for row in results["ratios"]
        if row["scenario"] == "f" and row["median"] is not None
    }
    if not ratios:
        return [
            "Scenario (f), a user of 1,000,000 todos, was not part of this run "
            "(`bench/README.md` has a run of it)."
        ]
    pages = " and ".join(
        f"{ratios[backend]:.2f} ({name})"
        for backend, name in BACKEND_NAMES.items()
        if backend in ratios
    )
    lines = [
        f"A page for a user of {big:,} todos (scenario f) ran at {pages} of the "
        f"requests/s of the same page for 200 todos"
    ]
    bulk: dict[str, dict[str, float]] = {}
    for row in results.get("bulk_mutations", []):
        bulk.setdefault(row["backend"], {})[row["mutation"]] = row["seconds"]
    timed = [
        f"{times['setAllTodosCompleted']:.1f} s / {times['clearCompletedTodos']:.1f} s "
        f"({BACKEND_NAMES[backend]})"
        for backend, times in bulk.items()
        if {"setAllTodosCompleted", "clearCompletedTodos"} <= times.keys()
    ]
    if timed:
        todos = results["bulk_mutations"][0]["todos"]
        lines[0] += (
            f"; setAllTodosCompleted / clearCompletedTodos over {todos:,} todos took "
            + " and ".join(timed)
        )
    lines[0] += "."
    return lines


def render(results: dict[str, Any]) -> str:
    """The block, markers included, for a latest.json object."""
    config = results["config"]
    day, clock = results["started_at"][:16].split("T")
    dirty = " with uncommitted changes" if results.get("dirty") else ""
    graphql_app = _by_backend(results["closed_loop"], scenario="a", server=GRAPHQL_APP)
    names = " | ".join(BACKEND_NAMES.values())
    lines = [
        START,
        NOTE,
        f"From the last full run ({day} {clock} UTC, commit `{results['commit'][:7]}`{dirty}, "
        f"1-minute load average {results['load_average_before'][0]:.2f} before it; "
        "`bench/results/latest.md` has every figure), a page of 20 todos with `totalCount` "
        "(scenario a):",
        "",
        f"| | {names} |",
        "|---" + "|---:" * len(BACKEND_NAMES) + "|",
        f"| graphql_app, requests/s | {_cells(graphql_app, 'rps', ',.0f')} |",
        "| ÷ the REST route on the same storage | "
        f"{_cells(_ratio(results, 'a', GRAPHQL_APP, BASELINE), 'median', '.2f')} |",
        "| ÷ PostGraphile 4 (`edges` form) | "
        f"{_cells(_ratio(results, 'a', GRAPHQL_APP, POSTGRAPHILE_EDGES), 'median', '.2f')} |",
        *(
            f"| ÷ {server_name(peer)} (same fields and tables) | "
            f"{_cells(_ratio(results, 'a', GRAPHQL_APP, peer), 'median', '.2f')} |"
            for peer in PEERS
        ),
        f"| p99 at {config['rate']:g} requests/s, beside {config['login_connections']} clients "
        "logging in | "
        f"{_cells(_by_backend(results['login']), 'page_p99_beside_login_ms', '.1f', ' ms')} |",
        "",
        *_crowd_lines(results),
        END,
    ]
    return "\n".join(lines)


def _span(text: str) -> tuple[int, int]:
    start = text.find(START)
    end = text.find(END, start + 1)
    if start < 0 or end < 0:
        raise MarkersMissing(f"README.md needs the lines {START!r} and {END!r}, in this order")
    return start, end + len(END)


def block(text: str) -> str:
    """The block as the README has it now, markers included."""
    start, end = _span(text)
    return text[start:end]


def with_block(text: str, results: dict[str, Any]) -> str:
    """The README's text with its block rewritten from `results`, the rest unchanged."""
    start, end = _span(text)
    return text[:start] + render(results) + text[end:]


def update(readme: Path = README, latest: Path = LATEST_JSON) -> bool:
    """Rewrite the README's block from latest.json; True when it changed."""
    text = readme.read_text(encoding="utf-8")
    new = with_block(text, load_latest(latest))
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text
