"""graphql-http's GraphQL over HTTP audit suite (npm graphql-http 1.23.1) against a real server.

Each mode runs on its own uvicorn process. Clients of a server with CSRF
prevention send `Content-Type: application/json` (Apollo Client does, GETs
included) or an `Apollo-Require-Preflight` header; the suite's bare GETs
have neither, so the suite runs twice: with that header added to every
request (every audit must pass) and as it is (only the three MAY audits
that send a bare GET may fail, refused as potential CSRF).

The suite's queries are introspection queries (`__type`, `__typename`), so
with production's default INTROSPECTION=off two of them get the
"introspection has been disabled" error instead of data: that run checks
that this is the only reason; a production run with INTROSPECTION=on
checks the rest of production's behaviour passes every audit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.js.node import run_node
from tests.support.environment import sqlite_env
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.slow

AUDITS = 61  # graphql-http 1.23.1: 13 MUST, 23 SHOULD, 25 MAY
CSRF_REFUSAL = "Cross-Site Request Forgery"
INTROSPECTION_OFF = "introspection has been disabled"


def serve(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("audit")
    base = sqlite_env(workdir, "audit")
    with live_server(workdir, {**base, **env}) as server:
        yield server


@pytest.fixture(scope="module")
def development(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from serve(tmp_path_factory, ENVIRONMENT="development")


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from serve(tmp_path_factory, ENVIRONMENT="production")


@pytest.fixture(scope="module")
def production_with_introspection(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    yield from serve(tmp_path_factory, ENVIRONMENT="production", INTROSPECTION="true")


def audit(
    server: LiveServer, capsys: pytest.CaptureFixture[str], label: str, *, preflight: bool
) -> list[dict[str, Any]]:
    """Run the suite; print the counts of passed audits per requirement level."""
    flags = ["--preflight-header"] if preflight else []
    results: list[dict[str, Any]] = run_node("audit.mjs", f"{server.url}/graphql", *flags)
    assert len(results) == AUDITS
    total = Counter(r["requirement"] for r in results)
    passed = Counter(r["requirement"] for r in results if r["status"] == "ok")
    counts = ", ".join(
        f"{level} {passed[level]}/{total[level]}" for level in ("MUST", "SHOULD", "MAY")
    )
    with capsys.disabled():
        print(f"\ngraphql-http audit, {label}: {counts} ({sum(passed.values())}/{AUDITS} passed)")
    return results


def failed(results: list[dict[str, Any]], *levels: str) -> list[dict[str, Any]]:
    return [r for r in results if r["status"] != "ok" and r["requirement"] in levels]


def describe(results: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['id']} {r['name']}: {r['reason']} {r['response']}" for r in results)


def test_development_passes_every_audit(
    development: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    results = audit(development, capsys, "development", preflight=True)
    assert not failed(results, "MUST", "SHOULD", "MAY"), describe(failed(results, "MAY"))


def test_development_refuses_only_bare_gets_as_potential_csrf(
    development: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    results = audit(development, capsys, "development, bare requests", preflight=False)
    assert not failed(results, "MUST", "SHOULD"), describe(failed(results, "MUST", "SHOULD"))
    refused = failed(results, "MAY")
    assert {r["id"] for r in refused} <= {"5A70", "D6D5", "6A70"}, describe(refused)
    for result in refused:
        assert result["response"]["status"] == 400
        assert CSRF_REFUSAL in result["response"]["body"]


def test_production_passes_every_must_and_should_audit(
    production_with_introspection: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    results = audit(
        production_with_introspection, capsys, "production, INTROSPECTION=on", preflight=True
    )
    assert not failed(results, "MUST", "SHOULD"), describe(failed(results, "MUST", "SHOULD"))


def test_production_defaults_fail_audits_only_for_disabled_introspection(
    production: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    results = audit(production, capsys, "production defaults", preflight=True)
    refused = failed(results, "MUST", "SHOULD", "MAY")
    assert refused, "production defaults must refuse the suite's __type introspection queries"
    for result in refused:
        assert INTROSPECTION_OFF in result["response"]["body"], describe([result])
