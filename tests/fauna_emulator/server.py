"""The emulator's HTTP front: the FaunaDB core's v4 wire protocol (fauna-notes §1, §6).

`POST /` takes one JSON query and answers `{"resource": ...}` (201 for a newly created
document) or `{"errors": [...]}`; `GET /ping` answers "Scope write is OK". Every answer is JSON
with an `X-Txn-Time` header, since the driver parses the body before it looks at the status.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from .errors import QueryError
from .evaluator import ROLE_ACTIONS, Evaluator
from .store import Store
from .values import Version, render

API_VERSIONS = frozenset({"2.0", "2.1", "2.7", "3", "3.0", "4", "4.0", "5", "5.0"})
MAX_QUERY_TIMEOUT_MS = 600_000
PING_SCOPES = frozenset({"node", "local", "global", "all", "read", "write"})

Answer = tuple[int, Any, dict[str, str]]

# The body the core answers when a transaction stays contended after its retries
# (`ext/repo/src/main/scala/RepoContext.scala` maxAttempts = 5; the 409 body is
# `ext/api/src/main/scala/api/fql1/APIResponse.scala` TransactionContentionNoInfo).
CONTENDED = (
    "contended transaction",
    "Transaction was aborted due to detection of concurrent modification.",
)
# `secret[:database/path]:role` (`ext/model/src/main/scala/auth/AuthScope.scala` AuthParser):
# the secret stops at any of "/,()&=:", a database path segment at any of ",()&=:".
_SCOPED = re.compile(
    r"^(?P<secret>[^/,()&=:]+):(?:(?P<db>[^,()&=:]+):)?"
    r"(?P<role>admin|server-readonly|server|client)$"
)
_PLAIN = re.compile(r"^(?P<secret>[^/,()&=:]+)(?::.*)?$")


def _error_body(code: str, description: str) -> dict[str, Any]:
    # Protocol-level errors carry no position (APIResponse in the core).
    return {"errors": [{"code": code, "description": description}]}


class FaunaEmulator:
    """An in-process FQL v4 server for tests; see the module docstring for the protocol."""

    def __init__(
        self,
        secret: str = "secret",  # noqa: S107 (the emulator's test secret)
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.secret = secret
        self.host = host
        self.port = port  # 0 picks a free port at start(); a restart reuses the one it got
        self.delay: float = 0.0
        self.fail_with_status: int | None = None
        self._contend = 0  # how many coming queries answer 409 (see contend_next)
        self._store = Store()
        self._state_lock = threading.Lock()  # one query at a time: the global transaction lock
        self._counter_lock = threading.Lock()
        self._requests = 0
        self._txn = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll: keep it short
            name=f"fauna-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()  # keep-alive clients must see the outage too
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- test controls ----

    @property
    def requests(self) -> int:
        """How many `POST /` queries arrived (one per driver round trip)."""
        with self._counter_lock:
            return self._requests

    @requests.setter
    def requests(self, value: int) -> None:
        with self._counter_lock:
            self._requests = value

    def reset_requests(self) -> None:
        with self._counter_lock:
            self._requests = 0

    def reset(self) -> None:
        """Drop every collection, index, function, document, child database and key."""
        with self._state_lock:
            self._store.reset()
            self._contend = 0

    def contend_next(self, count: int) -> None:
        """Answer the next `count` queries (after authentication) with the core's 409, as
        it does when a transaction is still contended after its own retries. Nothing of
        those queries is applied."""
        with self._counter_lock:
            self._contend = count

    def finish_index_builds(self, database: str = "") -> list[str]:
        """End every background index build (of the root database, or of the child database
        path `database`): those indexes turn `active: true`. Answers their names."""
        with self._state_lock:
            store = self._database(database.split("/") if database else [])
            return [] if store is None else store.finish_builds()

    def building_indexes(self, database: str = "") -> list[str]:
        """The names of the indexes still building (`active: false`)."""
        with self._state_lock:
            store = self._database(database.split("/") if database else [])
            if store is None:
                return []
            return [i.name for i in store.state.indexes.values() if not i.active]

    def _database(self, path: list[str]) -> Store | None:
        store = self._store
        for name in path:
            found = store.state.databases.get(name)
            if found is None:
                return None
            store = found.store
        return store

    # ---- request handling (called from the handler threads) ----

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        url = urlsplit(target)
        is_query = method == "POST" and url.path == "/"
        if is_query:
            with self._counter_lock:
                self._requests += 1
            if self.delay > 0:
                time.sleep(self.delay)  # before taking the state lock: others keep going
        status = self.fail_with_status
        if status is not None:
            return status, _error_body(_outage_code(status), "Emulated failure."), {}
        if method == "GET" and url.path == "/ping":
            return self._ping(url.query)
        if is_query:
            return self._query(headers, body)
        return 404, _error_body("not found", "Not Found"), {}

    def _ping(self, query: str) -> Answer:
        scope = parse_qs(query).get("scope", ["write"])[0]
        if scope not in PING_SCOPES:
            return 400, _error_body("invalid url parameter", f"Invalid scope '{scope}'."), {}
        return 200, {"resource": f"Scope {scope} is OK"}, {}

    def _credential(self, header: str | None) -> str | None:
        scheme, _, credential = (header or "").strip().partition(" ")
        if scheme.lower() == "bearer":
            return credential.strip()
        if scheme.lower() == "basic":
            try:
                # Basic sends "secret:" (password empty); the scoped secret keeps its colons.
                user = base64.b64decode(credential.strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            return user[:-1] if user.endswith(":") else user
        return None

    def _login(self, header: str | None) -> tuple[Store, str] | None:
        """The database and role a secret opens, or None (401). A scoped secret
        `secret:db:role` names a child database path and a built-in role; only the root
        key and admin keys may scope (AuthScope.scala canSetScope); anything else after a
        colon is ignored, as AuthParser's fallback does."""
        credential = self._credential(header)
        if not credential:
            return None
        scoped = _SCOPED.match(credential)
        plain = _PLAIN.match(credential)
        match = scoped or plain
        if match is None:
            return None
        secret = match.group("secret")
        path = (scoped.group("db") or "").split("/") if scoped and scoped.group("db") else []
        if hmac.compare_digest(secret.encode(), self.secret.encode()):
            home, role = self._store, "admin"
        else:
            found = self._key(self._store, secret)
            if found is None:
                return None
            home, role = found
            if scoped and role != "admin":
                return None
        if scoped:
            role = scoped.group("role")
        store = home
        for name in path:
            child = store.state.databases.get(name)
            if child is None:
                return None  # no such database: the login fails (getSubScope finds none)
            store = child.store
        return (store, role) if role in ROLE_ACTIONS else None

    def _key(self, store: Store, secret: str) -> tuple[Store, str] | None:
        for key in store.state.keys.values():
            if hmac.compare_digest(key.secret.encode(), secret.encode()):
                if key.database is None:
                    return store, key.role
                child = store.state.databases.get(key.database)
                return None if child is None else (child.store, key.role)
        for db in store.state.databases.values():
            found = self._key(db.store, secret)
            if found is not None:
                return found
        return None

    def _query(self, headers: dict[str, str], body: bytes) -> Answer:
        with self._state_lock:
            login = self._login(headers.get("authorization"))
        if login is None:
            auth = {"WWW-Authenticate": 'Basic realm="Unauthorized"'}
            return 401, _error_body("unauthorized", "Unauthorized"), auth
        bad = _check_headers(headers)
        if bad is not None:
            return 400, _error_body("bad request", bad), {}
        try:
            expr = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError) as exc:
            err = QueryError("invalid expression", f"Invalid JSON: {exc}", [])
            return 400, {"errors": [err.to_json()]}, {}
        if not body.strip():
            err = QueryError("invalid expression", "No query provided.", [])
            return 400, {"errors": [err.to_json()]}, {}
        with self._counter_lock:
            contended = self._contend > 0
            self._contend -= 1 if contended else 0
        if contended:
            ts = self._store.next_txn_ts()
            return 409, _error_body(*CONTENDED), {"X-Txn-Time": str(ts)}
        store, role = login
        return self.execute(expr, store, role)

    def execute(self, expr: Any, store: Store | None = None, role: str = "admin") -> Answer:
        """Run one decoded query as a transaction: commit on success, roll back on any error."""
        store = store or self._store
        with self._state_lock:
            ts = store.next_txn_ts()
            self._txn += 1
            store.begin()
            try:
                result = Evaluator(store, ts, self._txn, role).eval(expr, {}, [])
                resource = render(result)
            except QueryError as err:
                store.rollback()
                return err.status, {"errors": [err.to_json()]}, {"X-Txn-Time": str(ts)}
            except Exception as exc:  # an emulator bug: still JSON, like the core's 500
                store.rollback()
                body = _error_body("internal server error", f"{type(exc).__name__}: {exc}")
                return 500, body, {"X-Txn-Time": str(ts)}
            store.commit()
        created = isinstance(result, Version) and result.is_new
        return (201 if created else 200), {"resource": resource}, {"X-Txn-Time": str(ts)}

    @property
    def last_txn_time(self) -> int:
        return self._store.last_txn_ts


def _outage_code(status: int) -> str:
    return {503: "unavailable", 500: "internal server error", 429: "too many requests"}.get(
        status, "emulated failure"
    )


def _check_headers(headers: dict[str, str]) -> str | None:
    """The description of a 400 for a malformed API version or query timeout header."""
    version = headers.get("x-faunadb-api-version")
    if version is not None and version.strip() not in API_VERSIONS:
        return f"Invalid header 'X-FaunaDB-API-Version': unknown API version '{version}'."
    timeout = headers.get("x-query-timeout")
    if timeout is not None:
        ok = timeout.strip().isdigit() and 1 <= int(timeout) <= MAX_QUERY_TIMEOUT_MS
        if not ok:
            return (
                f"Invalid header 'X-Query-Timeout': '{timeout}' is not an integer from 1 "
                f"to {MAX_QUERY_TIMEOUT_MS} milliseconds."
            )
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: FaunaEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._connections_lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the driver's requests.Session expects
    # Send headers and body in one segment: split writes meet delayed ACKs (+40 ms a query).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def _body(self) -> bytes:
        # Read every request's body, even a GET's: the driver's ping sends "null", and bytes
        # left unread would corrupt the next request on this keep-alive connection.
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:
        self._respond("POST", self._body())

    def do_GET(self) -> None:
        self._respond("GET", self._body())

    def do_PUT(self) -> None:
        self._respond("PUT", self._body())

    def do_PATCH(self) -> None:
        self._respond("PATCH", self._body())

    def do_DELETE(self) -> None:
        self._respond("DELETE", self._body())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors (bad request line, unknown method) as JSON, never the stdlib's HTML."""
        data = json.dumps(_error_body("bad request", message or explain or str(code))).encode()
        self.close_connection = True
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.send_header("X-Txn-Time", str(self.server.emulator.last_txn_time))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _respond(self, method: str, body: bytes) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        emulator = self.server.emulator
        status, payload, extra = emulator.handle(method, self.path, headers, body)
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        extra.setdefault("X-Txn-Time", str(emulator.last_txn_time))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the counters, not the access log
