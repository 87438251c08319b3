"""Behind the shipped nginx configuration, over TLS, in front of two real instances on
PostgreSQL and Redis (README "Deploying"): what operators run.

Subscribers are the real graphql-ws client (tests/js/proxy_subscriber.mjs), which
reconnects and resubscribes by itself as browser apps do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.js.node import JS_DIR, require_node
from tests.support.backends import REDIS_URL
from tests.support.environment import server_env
from tests.support.graphql_client import PASSWORD, GraphQLClient, create_todo, sign_up
from tests.support.live_server import LiveServer, free_port, live_server
from tests.support.nginx_proxy import Proxy, nginx_proxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

LOG_IN = "mutation L($i: LogInInput!) { logIn(input: $i) { token refreshToken } }"
UPDATE = "mutation U($id: ID!) { updateTodo(id: $id, input: {isCompleted: true}) { id } }"
DELETE = "mutation D($id: ID!) { deleteTodo(id: $id) { id } }"
PAGE = "{ todos(first: 5) { totalCount edges { node { name isCompleted } } } }"
EVENTS = "subscription { todoEvents { kind todoId todo { name } } }"


def instance_env(database_url: str, redis_prefix: str, **extra: str) -> dict[str, str]:
    return server_env(
        database_url,
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=redis_prefix,
        # nginx reaches the instances from 127.0.0.1: only its word is believed.
        FORWARDED_ALLOW_IPS="127.0.0.1",
        SHUTDOWN_DRAIN_SECONDS="1",
        **extra,
    )


@dataclass
class Topology:
    workdir: Path
    env: dict[str, str]
    ports: list[int]
    proxy: Proxy
    stacks: list[contextlib.ExitStack] = field(default_factory=list)
    servers: list[LiveServer] = field(default_factory=list)

    def restart(self, index: int) -> None:
        """Stop instance `index` (SIGTERM: drain, finish, close sockets), then start a
        new process on the same port, migrating first as a new version would."""
        self.stacks[index].close()
        assert self.servers[index].process.returncode == 0, self.servers[index].log()
        self.stacks[index] = contextlib.ExitStack()
        self.servers[index] = self.stacks[index].enter_context(
            live_server(self.workdir, self.env, port=self.ports[index])
        )


@pytest.fixture
def topology_env() -> dict[str, str]:
    return {}


@pytest.fixture
def topology(
    tmp_path: Path, fresh_database_url: str, redis_prefix: str, topology_env: dict[str, str]
) -> Iterator[Topology]:
    env = instance_env(fresh_database_url, redis_prefix, **topology_env)
    ports = [free_port(), free_port()]
    stacks = [contextlib.ExitStack(), contextlib.ExitStack()]
    try:
        servers = [
            stacks[0].enter_context(live_server(tmp_path, env, port=ports[0])),
            stacks[1].enter_context(live_server(tmp_path, env, run_migrate=False, port=ports[1])),
        ]
        with nginx_proxy(tmp_path, ports) as proxy:
            yield Topology(tmp_path, env, ports, proxy, stacks, servers)
    finally:
        for stack in stacks:
            stack.close()


class Subscriber:
    """The graphql-ws client in a node process; one JSON line per happening."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, url: str, token: str, cafile: Path) -> Subscriber:
        node = require_node()
        process = await asyncio.create_subprocess_exec(
            node, "--experimental-websocket", "--no-warnings",
            str(JS_DIR / "proxy_subscriber.mjs"), url, token,
            cwd=JS_DIR, env={**os.environ, "NODE_EXTRA_CA_CERTS": str(cafile)},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def until(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 15) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                assert self.process.stdout is not None
                line = await self.process.stdout.readline()
                assert line, f"the subscriber exited; it saw {self.seen}"
                message = json.loads(line)
                self.seen.append(message)
                assert "error" not in message, message
                if wanted(message):
                    return message

    async def event(self, timeout: float = 15) -> dict[str, Any]:
        message = await self.until(lambda m: "event" in m, timeout)
        return dict(message["event"])

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def subscriber(proxy: Proxy, token: str) -> AsyncIterator[Subscriber]:
    sub = await Subscriber.start(proxy.wss_url, token, proxy.cert)
    try:
        await sub.until(lambda m: "connected" in m)
        yield sub
    finally:
        await sub.stop()


async def until_subscribed(sub: Subscriber, gql: GraphQLClient, token: str) -> None:
    """The subscribe message may still be on its way when `connected` is printed:
    make probe todos until one is heard of, then drop what was heard."""
    async with asyncio.timeout(15):
        while True:
            probe = await create_todo(gql, token, "probe")
            with contextlib.suppress(TimeoutError):
                while True:
                    event = await sub.event(timeout=0.5)
                    if event["todoId"] == probe["id"]:
                        return


async def test_contract_operations_over_tls(topology: Topology) -> None:
    async with topology.proxy.client() as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, "ada@example.com")
        login = (await gql(LOG_IN, {"i": {"email": "ada@example.com", "password": PASSWORD}})).ok()
        token = login["logIn"]["token"]
        me = (await gql("{ me { email } }", token=token)).ok()
        assert me == {"me": {"email": "ada@example.com"}}
        todo = await create_todo(gql, token, "through nginx")
        (await gql(UPDATE, {"id": todo["id"]}, token=token)).ok()
        page = (await gql(PAGE, token=token)).ok()
        assert page["todos"]["totalCount"] == 1
        assert page["todos"]["edges"][0]["node"] == {"name": "through nginx", "isCompleted": True}
        (await gql(DELETE, {"id": todo["id"]}, token=token)).ok()
        refreshed = await gql(
            "mutation R($t: String!) { refreshToken(refreshToken: $t) { token } }",
            {"t": login["logIn"]["refreshToken"]},
        )
        assert refreshed.ok()["refreshToken"]["token"]
        assert ada.token
    # Plain HTTP is sent to HTTPS, method and body kept (308).
    async with httpx.AsyncClient() as plain:
        answer = await plain.post(f"http://127.0.0.1:{topology.proxy.http_port}/graphql")
    assert answer.status_code == 308
    assert answer.headers["location"].startswith("https://")


async def test_a_subscriber_hears_changes_made_on_the_other_instance_and_idles_past_60_s(
    topology: Topology,
) -> None:
    b = topology.servers[1]
    async with (
        topology.proxy.client() as http,
        httpx.AsyncClient(base_url=b.url) as on_b_http,
    ):
        gql, on_b = GraphQLClient(http), GraphQLClient(on_b_http)
        ada = await sign_up(gql, "ada@example.com")
        topology.proxy.route(down={topology.ports[1]})  # the subscriber lands on A
        async with subscriber(topology.proxy, ada.token) as sub:
            topology.proxy.route(down=set())
            await until_subscribed(sub, on_b, ada.token)
            todo = await create_todo(on_b, ada.token, "made on B")
            (await on_b(UPDATE, {"id": todo["id"]}, token=ada.token)).ok()
            (await on_b(DELETE, {"id": todo["id"]}, token=ada.token)).ok()
            kinds = [(e["kind"], e["todoId"]) for e in [await sub.event() for _ in range(3)]]
            assert kinds == [(k, todo["id"]) for k in ("CREATED", "UPDATED", "DELETED")]

            # nginx cuts a connection idle for proxy_read_timeout (60 s); the server's
            # keep-alive pings (every 15 s) keep this one open.
            await asyncio.sleep(65)
            later = await create_todo(on_b, ada.token, "after a quiet minute")
            assert (await sub.event())["todoId"] == later["id"]
            assert not [m for m in sub.seen if "closed" in m], sub.seen
            assert len([m for m in sub.seen if "connected" in m]) == 1


@pytest.mark.parametrize(
    "accept",
    ["text/event-stream", 'multipart/mixed;subscriptionSpec="1.0"'],
    ids=["sse", "multipart"],
)
async def test_a_streamed_event_is_not_held_back_by_the_proxy(
    topology: Topology, accept: str
) -> None:
    async with topology.proxy.client() as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, "ada@example.com")
        headers = {"authorization": f"Bearer {ada.token}", "accept": accept}
        async with http.stream(
            "POST", "/graphql", json={"query": EVENTS}, headers=headers
        ) as stream:
            assert stream.status_code == 200
            chunks = stream.aiter_text()
            received = ""
            async with asyncio.timeout(15):
                while True:
                    # Until the stream is live a probe may go unheard; once it is, the
                    # event must arrive while the stream stays open (a buffering proxy
                    # holds it until its buffer fills or the stream ends).
                    todo = await create_todo(gql, ada.token, "streamed")
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(1):
                            while todo["id"] not in received:
                                received += await anext(chunks)
                            break


@pytest.mark.parametrize("topology_env", [{"AUTH_RATE_LIMIT": "3/minute"}])
async def test_rate_limits_follow_the_real_client_address(topology: Topology) -> None:
    wrong = {"i": {"email": "nobody@example.com", "password": "not the password"}}
    async with (
        topology.proxy.client(local_address="127.0.0.7") as seven_http,
        topology.proxy.client(local_address="127.0.0.8") as eight_http,
    ):
        seven, eight = GraphQLClient(seven_http), GraphQLClient(eight_http)
        for _ in range(3):
            assert (await seven(LOG_IN, wrong)).codes == ["UNAUTHENTICATED"]
        assert (await seven(LOG_IN, wrong)).codes == ["RATE_LIMITED"]
        # Naming another address to the proxy changes nothing: it is the edge.
        forged = {"x-forwarded-for": "203.0.113.9"}
        assert (await seven(LOG_IN, wrong, headers=forged)).codes == ["RATE_LIMITED"]
        # Another client has its own budget.
        assert (await eight(LOG_IN, wrong)).codes == ["UNAUTHENTICATED"]
    # Straight to an instance, a forged header is not believed: 127.0.0.8 pays.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.8")
    a = topology.servers[0]
    async with httpx.AsyncClient(base_url=a.url, transport=transport) as direct_http:
        direct = GraphQLClient(direct_http)
        for n in range(2):
            claim = {"x-forwarded-for": f"198.51.100.{n}"}
            assert (await direct(LOG_IN, wrong, headers=claim)).codes == ["UNAUTHENTICATED"]
        claim = {"x-forwarded-for": "198.51.100.99"}
        assert (await direct(LOG_IN, wrong, headers=claim)).codes == ["RATE_LIMITED"]


async def test_a_rolling_restart_drops_nothing(topology: Topology) -> None:
    """Each instance in turn: out of nginx's rotation, SIGTERM (drain, finish, close
    sockets), migrate + start the new version, back in. Meanwhile clients write and
    read at a steady rate, and subscribers stay subscribed."""
    proxy = topology.proxy
    # A new connection per request. `nginx -s reload` closes the old workers' idle
    # keep-alive connections, and a request sent on one at that moment fails: a race
    # between nginx and any HTTP/1.1 client, which browsers settle by retrying on a
    # fresh connection and httpx does not. It is no instance's doing, and this test
    # is about the instances.
    async with proxy.client(keep_alive=False) as http:
        gql = GraphQLClient(http)
        ada = await sign_up(gql, "ada@example.com")
        bob = await sign_up(gql, "bob@example.com")
        failures: list[str] = []
        created: list[str] = []
        stop = asyncio.Event()

        async def load(token: str, tag: str) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                name = f"{tag}-{n}"
                try:
                    made = await gql(
                        "mutation C($i: CreateTodoInput!) { createTodo(input: $i) { id } }",
                        {"i": {"name": name}},
                        token=token,
                    )
                    read = await gql("{ todos(first: 3) { totalCount } }", token=token)
                except httpx.HTTPError as exc:
                    failures.append(f"{name}: {exc!r}")
                    continue
                for result in (made, read):
                    if result.status != 200 or result.errors:
                        failures.append(f"{name}: {result.status} {result.body}")
                if made.status == 200 and not made.errors:
                    created.append(name)
                await asyncio.sleep(0.01)

        async with (
            subscriber(proxy, ada.token) as ada_sub,
            subscriber(proxy, bob.token) as bob_sub,
        ):
            await until_subscribed(ada_sub, gql, ada.token)
            await until_subscribed(bob_sub, gql, bob.token)
            workers = [
                asyncio.create_task(load(ada.token, "ada")),
                asyncio.create_task(load(bob.token, "bob")),
            ]
            try:
                for index in (0, 1):
                    proxy.route(down={topology.ports[index]})
                    await asyncio.to_thread(topology.restart, index)
                    proxy.route(down=set())
                await asyncio.sleep(0.5)
            finally:
                stop.set()
                await asyncio.gather(*workers)

            # Every subscriber was on a stopped instance at some point: each was closed
            # with a code its client reconnects on, and is subscribed again.
            for sub, account in ((ada_sub, ada), (bob_sub, bob)):
                await until_subscribed(sub, gql, account.token)  # reads what it printed
                closes = [m["closed"] for m in sub.seen if "closed" in m]
                assert closes and set(closes) == {1012}, sub.seen

    assert failures == []
    assert len(created) > 50, "the load should have run through both restarts"
    conn = await asyncpg.connect(topology.env["DATABASE_URL"])
    try:
        rows = await conn.fetch("SELECT name, count(*) AS n FROM todos GROUP BY name")
    finally:
        await conn.close()
    counts = {r["name"]: r["n"] for r in rows}
    # Applied exactly once: every answered mutation is there once, nothing else is.
    assert {name: counts.get(name) for name in created} == dict.fromkeys(created, 1)
    assert set(counts) - set(created) <= {"probe"}
