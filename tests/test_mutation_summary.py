"""scripts/mutation_summary.py against a real mutmut run on a tiny project.

It reads mutmut's results through mutmut's own modules (pinned: mutmut>=3.8,<4);
this runs mutmut for real, so an upgrade that moves them fails here first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = ROOT / "scripts" / "mutation_summary.py"
MUTMUT = Path(sys.executable).parent / "mutmut"

PROJECT = {
    "pyproject.toml": '[tool.mutmut]\nsource_paths = ["pkg"]\n',
    "pkg/__init__.py": "",
    "pkg/calc.py": (
        "def clamp(value: int, low: int, high: int) -> int:\n"
        "    if value < low:\n"
        "        return low\n"
        "    if value > high:\n"
        "        return high\n"
        "    return value\n\n\n"
        "def double(value: int) -> int:\n"
        "    return value * 2\n"
    ),
    "tests/test_calc.py": (
        "from pkg.calc import clamp, double\n\n\n"
        "def test_calc() -> None:\n"
        "    assert clamp(-5, 0, 10) == 0\n"
        "    assert clamp(50, 0, 10) == 10\n"
        "    assert clamp(5, 0, 10) == 5\n"
        "    assert double(3) == 6\n"
    ),
}


def summary(cwd: Path, *args: str) -> list[str]:
    """The summary's lines; its exit status is the last one."""
    result = subprocess.run(
        [sys.executable, str(SUMMARY), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return [*result.stdout.splitlines(), str(result.returncode)]


def mutated_line(cwd: Path, name: str) -> str:
    shown = subprocess.run(
        [str(MUTMUT), "show", name], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout
    (line,) = [ln[1:].strip() for ln in shown.splitlines() if ln.startswith("+ ")]
    return line


@pytest.mark.slow
def test_the_summary_counts_what_mutmut_found_less_the_equivalent_list(tmp_path: Path) -> None:
    for name, text in PROJECT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    run = subprocess.run(
        [str(MUTMUT), "run", "--max-children", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]

    # `<` and `>` made `<=` and `>=` survive (at the bound, the bound is the value);
    # `* 2` made `/ 2` or `* 3` dies.
    lines = summary(tmp_path, "--list", "--fail-under", "90")
    survivors = sorted(ln.split()[1] for ln in lines if ln.strip().startswith("survived:"))
    assert [mutated_line(tmp_path, name) for name in survivors] == [
        "if value <= low:",
        "if value >= high:",
    ]
    (score,) = [ln for ln in lines if " killed of " in ln and ln.startswith("mutation: ")]
    killed, total = score.removeprefix("mutation: ").split(" killed of ")
    assert int(killed) >= 1 and total.startswith(f"{int(killed) + 2} (")
    assert lines[-1] == "1"  # below the floor

    listing = tmp_path / "tests" / "mutation_equivalent.txt"
    entries = [f"{name} :: {mutated_line(tmp_path, name)} :: same value" for name in survivors]
    listing.write_text("\n".join(entries) + "\n")
    lines = summary(tmp_path, "--fail-under", "100")
    assert lines[-2:] == [f"mutation: {killed} killed of {killed} (100.0 %)", "0"]

    # An entry that no longer names what its mutant changes is stale: the mutant counts.
    listing.write_text(entries[0].replace("<=", "<") + "\n" + entries[1] + "\n")
    lines = summary(tmp_path, "--fail-under", "100")
    assert any(ln.startswith("stale entry") and survivors[0] in ln for ln in lines), lines
    assert lines[-1] == "1"


def test_changed_modules_are_named_by_their_own_mutants_only(tmp_path: Path) -> None:
    """What CI mutates after a change: a moved module under its new name, a package's
    __init__.py by its own mutants (not its submodules'), and neither a deleted module
    nor one without a function (mutmut mutates only functions; a glob that matches no
    mutant stops its run)."""
    files = {
        "pyproject.toml": '[tool.mutmut]\nsource_paths = ["pkg"]\n',
        "pkg/__init__.py": "def top() -> int:\n    return 1\n",
        "pkg/old_name.py": "def f() -> int:\n    return 1\n",
        "pkg/gone.py": "def g() -> int:\n    return 1\n",
        "pkg/constants.py": "LIMIT = 1\n",
        "pkg/same.py": "def h() -> int:\n    return 1\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    git("mv", "pkg/old_name.py", "pkg/new_name.py")
    git("rm", "-q", "pkg/gone.py")
    (tmp_path / "pkg/__init__.py").write_text("def top() -> int:\n    return 2\n")
    (tmp_path / "pkg/constants.py").write_text("LIMIT = 2\n")
    lines = summary(tmp_path, "--changed-since", "HEAD")
    assert lines == ["pkg.x_* pkg.xǁ* pkg.new_name.*", "0"]


def test_a_mutant_the_equivalent_list_names_runs_no_test(tmp_path: Path) -> None:
    """tests/support/mutation_plugin.py, which [tool.mutmut] loads: pytest collects
    nothing (exit 5, mutmut's "no tests") for a listed mutant, and runs as usual for
    any other one and outside mutmut."""
    (tmp_path / "test_one.py").write_text("def test_one() -> None:\n    pass\n")
    listed = next(
        line.split(" :: ")[0]
        for line in (ROOT / "tests" / "mutation_equivalent.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )

    def pytest_exit_code(mutant: str | None) -> int:
        env = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}
        if mutant is not None:
            env["MUTANT_UNDER_TEST"] = mutant
        env["PYTHONPATH"] = str(ROOT)
        args = ["-m", "pytest", "-q", "-p", "tests.support.mutation_plugin", str(tmp_path)]
        return subprocess.run(
            [sys.executable, *args, "-c", os.devnull],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            check=False,
        ).returncode

    assert pytest_exit_code(listed) == 5
    assert pytest_exit_code(listed + "x") == 0  # no such mutant
    assert pytest_exit_code(None) == 0
