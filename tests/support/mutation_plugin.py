"""A pytest plugin for `make mutation` only ([tool.mutmut] in pyproject.toml loads it).

A mutant that tests/mutation_equivalent.txt lists runs no test: mutmut records
"no tests" for it. scripts/mutation_summary.py leaves listed mutants out of the
score whatever their verdict (after checking that each still mutates the line the
list names), so their tests, which all pass since nothing can fail on them, were
only the longest part of a run: every test reaching the function, in full.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

EQUIVALENT_FILE = Path(__file__).resolve().parents[1] / "mutation_equivalent.txt"


def listed_mutants() -> frozenset[str]:
    """The mutant names in the list (the first field of each entry)."""
    names = set()
    for raw in EQUIVALENT_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            names.add(line.split(" :: ", 1)[0].strip())
    return frozenset(names)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> bool | None:
    """Collect nothing for a listed mutant (pytest then exits 5: no tests)."""
    del session
    if os.environ.get("MUTANT_UNDER_TEST", "") in listed_mutants():
        return True
    return None
