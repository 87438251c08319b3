"""Liveness and readiness probes."""

from __future__ import annotations

import httpx


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["storage"] == "up"


async def test_request_id_is_echoed_or_made(http: httpx.AsyncClient) -> None:
    echoed = await http.get("/healthz", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = await http.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
