"""Node for the tests: the pinned npm packages of tests/js, installed by the tests themselves.

`npm ci` runs from the committed package-lock.json when node_modules is
missing or was installed from another lock file (a stamp records its hash).
Without node and npm the tests that need them skip, saying so; .ci/run turns
such a skip into a failure. The scripts use the WebSocket that browsers and
Node 22+ have built in; Node 20 and 21 have it behind a flag, which is set.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parent
LOCK = JS_DIR / "package-lock.json"
STAMP = JS_DIR / "node_modules" / ".installed-from-lock"


def _lock_hash() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def require_node() -> str:
    """The node executable, with tests/js/node_modules installed; skips without node or npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the JS client tests (install nodejs and npm)")
    if not STAMP.exists() or STAMP.read_text().strip() != _lock_hash():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {JS_DIR}:\n{done.stdout}\n{done.stderr}")
        STAMP.write_text(_lock_hash())
    return node


def node_flags(node: str) -> list[str]:
    """The flags that give `node` the global WebSocket (built in from Node 22 on)."""
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    major = int(version.lstrip("v").split(".")[0])
    return ["--experimental-websocket"] if major < 22 else []


def run_node(
    script: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> Any:
    """Run tests/js/<script> with node; its stdout, parsed as JSON. Fails with its stderr."""
    node = require_node()
    done = subprocess.run(
        [node, *node_flags(node), str(JS_DIR / script), *args],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        pytest.fail(f"node {script} failed (exit {done.returncode}):\n{done.stderr}\n{done.stdout}")
    return json.loads(done.stdout)
