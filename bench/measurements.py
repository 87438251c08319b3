"""What one bench run measured: filled by `runner.Run`, rendered by `report`.

The runner appends to a `RunResults` as it measures; `report` turns it into
results/*.json and *.md and knows nothing else of the run (no server, no
process, no target). Rows measured by wrk and the open-loop generator stay the
dicts `load` returns: they go into the JSON as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Cell:
    """One server answering one scenario on one backend, closed loop: a row of the tables."""

    scenario: str
    backend: str
    server: str  # scenarios.BASELINE, GRAPHQL_APP, POSTGRAPHILE_*
    rounds: list[dict[str, Any]] = field(default_factory=list)  # load.run_wrk's, plus "round"


@dataclass
class RunResults:
    """Everything a run measured and noted, in the order the runner fills it."""

    started: datetime
    config: dict[str, Any]  # runner.Config's fields, as the JSON gives them
    commit: dict[str, Any]  # {"commit": short hash, "dirty": bool}
    load_before: tuple[float, float, float]
    finished: datetime | None = None
    elapsed_s: float = 0.0
    closed_loop: list[Cell] = field(default_factory=list)
    open_loop: list[dict[str, Any]] = field(default_factory=list)
    login: list[dict[str, Any]] = field(default_factory=list)
    bulk: list[dict[str, Any]] = field(default_factory=list)
    round_trips: list[dict[str, Any]] = field(default_factory=list)
    same_json: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, Any] = field(default_factory=dict)
    profile_md: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return float(self.config["rate"])

    @property
    def quick(self) -> bool:
        return bool(self.config["quick"])
