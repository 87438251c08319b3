"""Where a server's CPU time goes under load: py-spy samples, summarised.

py-spy (the `bench` extra) samples the running server's Python stacks from
outside the process while wrk drives scenario (a). It pauses the server for
each sample (a few µs): without the pause (`--nonblocking`) it reads frames
that change under it and blames the wrong lines. Native work (the sqlite3 C
module, asyncpg's protocol, JSON encoding) counts for the Python function
that called it. A paused thread no longer looks idle to py-spy, so samples
of threads waiting for work (an idle thread pool) are dropped here; the
shares are of busy time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.servers import LOAD_CORE, pinned

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    """The py-spy executable of this venv (or on PATH), None when missing."""
    local = Path(sys.executable).with_name("py-spy")
    if local.exists():
        return str(local)
    return shutil.which("py-spy")


def record(pid: int, seconds: int, output: Path) -> None:
    """Sample `pid` for `seconds` into collapsed stacks at `output`."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
    command = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        "250",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    result = subprocess.run(
        pinned(command, LOAD_CORE),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if result.returncode != 0 or not output.exists():
        raise RuntimeError(f"py-spy failed:\n{result.stdout}{result.stderr}")


def _package(path: str) -> str:
    """Where code lives: a third-party package, a stdlib module, or a part of ours.

    py-spy names files relative to their sys.path entry (`graphql/language/visitor.py`,
    `asyncio/runners.py`, `graphql_app/schema/types.py`).
    """
    top = path.split("/", 1)[0].removesuffix(".py")
    if top in ("graphql_app", "bench") and "/" in path:
        sub = path.split("/")[1].removesuffix(".py")
        return f"{top}/{sub}"
    if top in sys.stdlib_module_names or path.startswith("<frozen"):
        return f"stdlib {top.strip('<>').removeprefix('frozen ')}"
    return top


# Phases of a request, named by the innermost frame that matches: a sample in
# graphql-core's visitor called by validation counts as "validate", one in the
# sqlite3 driver called by a resolver counts as "storage".
PHASES: list[tuple[str, tuple[str, ...]]] = [
    ("storage (graphql_app.storage + driver)", ("graphql_app/storage", "asyncpg/", "sqlite3/")),
    ("JWT verify", ("jwt/", "graphql_app/security/tokens")),
    ("logging", ("logging/",)),
    ("JSON encode/decode", ("json/", "orjson")),
    ("GraphQL parse", ("graphql/language/parser", "graphql/language/lexer")),
    ("GraphQL validate", ("graphql/validation/",)),
    # The services read through the loaders the schema held until issue 13: one phase
    # still, so that profiles from before and after compare.
    ("our schema: resolvers, types, loaders", ("graphql_app/schema", "graphql_app/services")),
    ("our code: other", ("graphql_app/",)),
    ("GraphQL execute (graphql-core)", ("graphql/execution/",)),
    ("Strawberry (view, schema wrapper, extensions)", ("strawberry/",)),
    ("Starlette (app, middleware, routing, request)", ("starlette/",)),
    ("uvicorn + httptools (HTTP server)", ("uvicorn/", "httptools/")),
    ("asyncio event loop", ("asyncio/", "uvloop/")),
]


def _phase(frames: list[tuple[str, str]]) -> str:
    for _, path in reversed(frames):
        for name, prefixes in PHASES:
            if path.startswith(prefixes):
                return name
    return "other"


# Leaf frames of a thread waiting for work, not working: a thread pool's worker
# blocked on its queue, a thread blocked on a lock.
IDLE_LEAVES = {
    ("_worker", "concurrent/futures/thread.py"),
    ("Condition.wait", "threading.py"),
    ("Thread._wait_for_tstate_lock", "threading.py"),
}


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


@dataclass
class Profile:
    samples: int = 0
    idle_samples: int = 0
    self_by_function: Counter[str] = field(default_factory=Counter)
    total_by_function: Counter[str] = field(default_factory=Counter)
    self_by_package: Counter[str] = field(default_factory=Counter)
    total_by_package: Counter[str] = field(default_factory=Counter)
    by_phase: Counter[str] = field(default_factory=Counter)


def summarise(raw: Path) -> Profile:
    """Self and inclusive sample counts by function and by package."""
    profile = Profile()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            if match is None:
                continue
            frames.append((match["func"], match["file"]))
        if not frames:
            continue
        if frames[-1] in IDLE_LEAVES:
            profile.idle_samples += count
            continue
        profile.samples += count
        profile.by_phase[_phase(frames)] += count
        # Generated code (namedtuple, dataclass methods) counts for its caller's package.
        owner = next((p for _, p in reversed(frames) if not p.startswith("<")), frames[-1][1])
        func, path = frames[-1]
        profile.self_by_function[f"{func} ({_short(path)})"] += count
        profile.self_by_package[_package(owner)] += count
        for name in {f"{f} ({_short(p)})" for f, p in frames}:
            profile.total_by_function[name] += count
        for package in {_package(p) for _, p in frames}:
            profile.total_by_package[package] += count
    return profile


def profile_markdown(profile: Profile, title: str, top: int = 25) -> str:
    """The top of a profile as markdown tables (shares of sampled busy time)."""
    if profile.samples == 0:
        return f"#### {title}\n\nno samples\n"
    n = profile.samples

    def share(count: int) -> str:
        return f"{100 * count / n:.1f}%"

    lines = [
        f"#### {title}",
        "",
        f"{n} samples of busy time ({profile.idle_samples} of idle pool threads left out).",
        "",
    ]
    lines += ["| share | phase (innermost matching frame) |", "|---:|---|"]
    for phase, count in profile.by_phase.most_common():
        lines.append(f"| {share(count)} | {phase} |")
    lines += ["", "| self | inclusive | package or module |", "|---:|---:|---|"]
    for package, count in profile.self_by_package.most_common(15):
        lines.append(f"| {share(count)} | {share(profile.total_by_package[package])} | {package} |")
    lines += ["", "| self | function |", "|---:|---|"]
    for name, count in profile.self_by_function.most_common(top):
        lines.append(f"| {share(count)} | `{name}` |")
    # Inclusive, below the frames every request passes through (server loop, routing).
    lines += ["", "| inclusive | function |", "|---:|---|"]
    ceiling = 0.6 * n
    shown = [(k, c) for k, c in profile.total_by_function.most_common() if c < ceiling]
    for name, count in shown[:top]:
        lines.append(f"| {share(count)} | `{name}` |")
    return "\n".join(lines) + "\n"


def profile_json(profile: Profile, top: int = 40) -> dict[str, object]:
    return {
        "samples": profile.samples,
        "idle_samples": profile.idle_samples,
        "by_phase": profile.by_phase.most_common(),
        "self_by_package": profile.self_by_package.most_common(top),
        "total_by_package": profile.total_by_package.most_common(top),
        "self_by_function": profile.self_by_function.most_common(top),
        "total_by_function": profile.total_by_function.most_common(top),
    }
