"""Summarise a mutmut run: `mutation: K killed of N (P %)`, module by module.

Reads the verdicts mutmut left under mutants/ (run from the repository root,
after `mutmut run`). N counts the mutants that can change behaviour: those
listed in tests/mutation_equivalent.txt are left out, each entry checked
against the mutant it names (an entry whose mutant is gone or now mutates
another line is stale: the mutant counts again, and the entry is reported).

A mutant is killed when a test failed or timed out on it; anything else
(survived, no test ran it, crashed) counts against the score, and a mutant
left unchecked fails the summary: the run did not finish.

    python scripts/mutation_summary.py [--fail-under 95] [MUTANT_GLOB ...]
    python scripts/mutation_summary.py --changed-since GIT_REF

MUTANT_GLOB picks mutants by name as `mutmut run` does (e.g.
'graphql_app.cursors.*'); without one, every mutated module counts.
--changed-since prints the globs of the mutated modules that differ from
GIT_REF (for `make mutation MUTATE=...`), and nothing when none does.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# mutmut's own reading of its results (mutmut>=3.8,<4, pyproject.toml); the
# slow test tests/test_mutation_summary.py runs a real mutmut run through them.
from mutmut.configuration import config
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

EQUIVALENT_FILE = Path("tests/mutation_equivalent.txt")
KILLED = frozenset({"killed", "timeout"})
SEPARATOR = " :: "


@dataclass(frozen=True)
class Equivalent:
    """One line of the list: `mutant name :: the mutated line :: why it changes nothing`."""

    name: str
    mutated_line: str
    reason: str


@dataclass
class ModuleScore:
    killed: int = 0
    counted: int = 0
    equivalent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def line(self, label: str) -> str:
        percent = 100.0 * self.killed / self.counted if self.counted else 100.0
        return f"{label}: {self.killed} killed of {self.counted} ({percent:.1f} %)"


def read_equivalents(path: Path) -> dict[str, Equivalent]:
    entries: dict[str, Equivalent] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(SEPARATOR)]
        if len(parts) != 3 or not all(parts):
            raise SystemExit(f"{path}:{number}: expected 'name{SEPARATOR}line{SEPARATOR}reason'")
        name, mutated_line, reason = parts
        if name in entries:
            raise SystemExit(f"{path}:{number}: {name} is listed twice")
        entries[name] = Equivalent(name, mutated_line, reason)
    return entries


def mutated_line(name: str, path: Path) -> str:
    """The mutant's changed line(s), as `mutmut show` prints them after '+'."""
    diff = get_diff_for_mutant(name, path=path)
    added = [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " / ".join(added) if added else "(line removed)"


@dataclass
class Run:
    """What one reading of mutmut's results found."""

    scores: dict[str, ModuleScore] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    unchecked: int = 0


def read_run(globs: list[str], equivalents: dict[str, Equivalent]) -> Run:
    run = Run()
    seen: set[str] = set()
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, exit_code in sorted(data.exit_code_by_key.items()):
            if globs and not any(fnmatch.fnmatch(name, g) for g in globs):
                continue
            score = run.scores.setdefault(str(path), ModuleScore())
            status = status_by_exit_code[exit_code]
            score.statuses[status] += 1
            entry = equivalents.get(name)
            if entry is not None:
                seen.add(name)
                line = mutated_line(name, path)
                if line == entry.mutated_line:
                    score.equivalent += 1
                    continue
                run.stale.append(f"{name}: now mutates {line!r}")
            run.unchecked += status == "not checked"
            score.counted += 1
            if status in KILLED:
                score.killed += 1
            else:
                run.survivors.append(f"{name} ({status})")
    if not globs:
        run.stale += [f"{name}: no such mutant" for name in sorted(set(equivalents) - seen)]
    return run


def module_globs(path: Path) -> list[str]:
    """The globs naming the mutants of one source file, and only its own: a package's
    __init__.py has `pkg.x_f__mutmut_1` and `pkg.xǁClassǁf__mutmut_1`, not `pkg.mod.…`.
    None for a file without a function: mutmut mutates only functions, and a run
    given globs that match no mutant stops with an error."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    if not any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(tree)):
        return []
    module = ".".join(path.with_suffix("").parts)
    if path.name == "__init__.py":
        package = module.removesuffix(".__init__")
        return [f"{package}.x_*", f"{package}.xǁ*"]
    return [f"{module}.*"]


def changed_module_globs(ref: str) -> list[str]:
    """The globs of each module [tool.mutmut] mutates that differs from `ref` (a module
    moved or renamed since counts under its new name; a deleted one not at all)."""
    sources = [str(path) for path in config().source_paths]
    # git from PATH, on a ref the caller (CI) names: the script runs nothing else.
    changed = subprocess.run(  # noqa: S603
        ["git", "diff", "--name-only", ref, "--", *sources],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        glob
        for name in sorted(changed)
        if Path(name).exists() and config().should_mutate(name)
        for glob in module_globs(Path(name))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("globs", nargs="*", metavar="MUTANT_GLOB")
    parser.add_argument("--fail-under", type=float, default=None, metavar="PERCENT")
    parser.add_argument("--equivalent", type=Path, default=EQUIVALENT_FILE)
    parser.add_argument("--list", action="store_true", help="name every surviving mutant")
    parser.add_argument("--changed-since", metavar="GIT_REF")
    args = parser.parse_args(argv)
    if args.changed_since:
        print(" ".join(changed_module_globs(args.changed_since)))
        return 0

    equivalents = read_equivalents(args.equivalent) if args.equivalent.exists() else {}
    run = read_run(args.globs, equivalents)
    if not run.scores:
        print("mutation: no mutants found; run `mutmut run` first", file=sys.stderr)
        return 2
    total = ModuleScore()
    for module, score in sorted(run.scores.items()):
        print(f"  {score.line(module)}, {score.equivalent} equivalent")
        total.killed += score.killed
        total.counted += score.counted
        total.equivalent += score.equivalent
    for problem in run.stale:
        print(f"stale entry in {args.equivalent}: {problem}")
    if args.list:
        for survivor in run.survivors:
            print(f"  survived: {survivor}")
    print(f"  {total.equivalent} equivalent mutants left out ({args.equivalent})")
    print(total.line("mutation"))

    if run.unchecked:
        print(f"mutation: {run.unchecked} mutants were not checked: the run did not finish")
        return 1
    percent = 100.0 * total.killed / total.counted if total.counted else 100.0
    if args.fail_under is not None and percent < args.fail_under:
        print(f"mutation: below {args.fail_under:g} %; `--list` names the survivors")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
