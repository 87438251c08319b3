"""The import graph of the package and the bench: no module imports, even lazily
or for typing only, a module that imports it back; and the layers import one way.

Data flows HTTP → schema → services → storage (README "Layout"): the GraphQL
and HTTP layers reach stored data and events only through the services, so no
module of `schema/` or `http/` imports `graphql_app.storage` or
`graphql_app.events` (app.py, which builds every part, may).

Every `import` and `from ... import` counts, wherever it stands (in a function,
under `if TYPE_CHECKING:`): a lazy import still ties the two modules together.
Importing `a.b.c` also runs `a/b/__init__.py`, but that is not counted as an
edge: a package's `__init__` that picks a submodule lazily (`storage/`,
`events/`) is the intended shape, not a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("graphql_app", "bench")
# Layers, and what they must not import (nor anything under it), even lazily.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "graphql_app.schema": ("graphql_app.storage", "graphql_app.events"),
    "graphql_app.http": ("graphql_app.storage", "graphql_app.events"),
}


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of `packages` under `root`."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules among `packages` it imports anywhere in its text."""
    known = modules(root, packages)

    def owner(name: str) -> str | None:
        # `a.b.C` (a name imported from module a.b) belongs to a.b.
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            targets.update(t for t in map(owner, names) if t is not None and t != module)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that reach each other (strongly connected, more than one)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def forbidden_imports(graph: dict[str, set[str]]) -> list[str]:
    """`importer -> imported` for each import that FORBIDDEN rules out."""
    return [
        f"{importer} -> {target}"
        for importer in sorted(graph)
        for layer, banned in FORBIDDEN.items()
        if _under(importer, layer)
        for target in sorted(graph[importer])
        if any(_under(target, b) for b in banned)
    ]


def test_no_module_of_the_package_or_the_bench_imports_one_that_imports_it_back() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert "graphql_app.events.memory" in graph["graphql_app.events"]  # lazy imports count
    assert cycles(graph) == []


def test_the_cycle_check_finds_lazy_and_typing_only_cycles(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("def f():\n    from pkg.sub import impl\n")
    (package / "sub" / "impl.py").write_text("from pkg.sub.base import X\n")
    (package / "sub" / "base.py").write_text("X = 1\n")
    (package / "run.py").write_text("from pkg import report\n")
    (package / "report.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .run import Run\n"
    )
    # The package picking a submodule lazily is no cycle; run <-> report is one.
    assert cycles(import_graph(tmp_path, ("pkg",))) == [["pkg.report", "pkg.run"]]


def test_schema_and_http_reach_storage_and_events_only_through_the_services() -> None:
    assert forbidden_imports(import_graph(ROOT, PACKAGES)) == []


def test_the_layer_check_finds_a_layer_importing_storage() -> None:
    graph = {
        "graphql_app.schema.types": {"graphql_app.services.todos", "graphql_app.storage"},
        "graphql_app.http.view": {"graphql_app.events.redis"},
        "graphql_app.services.todos": {"graphql_app.storage", "graphql_app.events"},
        "graphql_app.schemata": {"graphql_app.storage"},  # not the schema package
    }
    assert forbidden_imports(graph) == [
        "graphql_app.http.view -> graphql_app.events.redis",
        "graphql_app.schema.types -> graphql_app.storage",
    ]
