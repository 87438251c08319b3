"""Debian's nginx in front of test instances, with the shipped configuration.

`deploy/nginx/graphql_app.conf.template` is rendered as the official nginx image
renders it (envsubst of ${NAME}), included in a minimal main configuration that
keeps every file nginx writes in the test's folder, and served over TLS with a
throw-away certificate made by openssl. Without nginx or openssl the test skips,
saying so; .ci/run installs nginx and turns such a skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import ROOT, free_port

TEMPLATE = ROOT / "deploy" / "nginx" / "graphql_app.conf.template"
MAIN_CONF = """
user root;
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/graphql_app.conf;
}}
"""


def require_tools() -> str:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None or shutil.which("openssl") is None:
        pytest.skip("nginx and openssl are needed for the proxy tests (apt-get install nginx)")
    return nginx


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, valid one day."""
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def render(template: str, values: dict[str, str]) -> str:
    """envsubst: ${NAME} for the given names only; nginx's own $variables stay."""
    text = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m[1], m[0]), template)
    left = re.findall(r"\$\{\w+\}", text)
    assert not left, f"the template names variables the test does not set: {left}"
    return text


@dataclass
class Proxy:
    nginx: str
    prefix: Path
    process: subprocess.Popen[bytes]
    https_port: int
    http_port: int
    cert: Path
    upstreams: list[int]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.https_port}/graphql"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def client(
        self, local_address: str | None = None, *, keep_alive: bool = True
    ) -> httpx.AsyncClient:
        """An HTTPS client trusting the throw-away certificate, from `local_address`."""
        transport = httpx.AsyncHTTPTransport(
            verify=self.ssl_context(),
            local_address=local_address,
            limits=httpx.Limits(max_keepalive_connections=None if keep_alive else 0),
        )
        return httpx.AsyncClient(base_url=self.url, transport=transport, timeout=30)

    def route(self, down: set[int]) -> None:
        """Take the upstreams on these ports out of rotation (or back in): rewrite
        the configuration, reload, and return once the new workers serve."""
        write_conf(self.prefix, self.upstreams, self.https_port, self.http_port, self.cert, down)
        before = self.workers()
        run_nginx(self.nginx, self.prefix, "-t")
        run_nginx(self.nginx, self.prefix, "-s", "reload")
        deadline = time.monotonic() + 10
        while not (self.workers() - before):
            assert time.monotonic() < deadline, "nginx did not start new workers"
            time.sleep(0.02)

    def workers(self) -> set[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return {int(pid) for pid in found.stdout.split()}

    def log(self) -> str:
        return (self.prefix / "error.log").read_text(errors="replace")


def write_conf(
    prefix: Path, upstreams: list[int], https_port: int, http_port: int, cert: Path, down: set[int]
) -> None:
    values = {
        "APP_1": f"127.0.0.1:{upstreams[0]}",
        "APP_2": f"127.0.0.1:{upstreams[1]}",
        "HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "TLS_CERT": str(cert),
        "TLS_KEY": str(cert.with_suffix(".key")),
    }
    conf = render(TEMPLATE.read_text(), values)
    for port in down:  # as an operator takes a server out: mark it `down`
        conf = conf.replace(f"server 127.0.0.1:{port} ", f"server 127.0.0.1:{port} down ")
    (prefix / "graphql_app.conf").write_text(conf)
    (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix))


def run_nginx(nginx: str, prefix: Path, *args: str) -> None:
    done = subprocess.run(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@contextmanager
def nginx_proxy(workdir: Path, upstreams: list[int]) -> Iterator[Proxy]:
    """nginx on free ports in front of the instances listening on `upstreams`."""
    nginx = require_tools()
    prefix = workdir / "nginx"
    for sub in ("", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    cert, _key = make_certificate(prefix)
    https_port, http_port = free_port(), free_port()
    write_conf(prefix, upstreams, https_port, http_port, cert, set())
    run_nginx(nginx, prefix, "-t")
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
    )  # fmt: skip
    proxy = Proxy(nginx, prefix, process, https_port, http_port, cert, upstreams)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, f"nginx exited:\n{proxy.log()}"
            try:
                with httpx.Client(verify=proxy.ssl_context()) as http:
                    if http.get(f"{proxy.url}/healthz", timeout=1).status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"nginx did not start:\n{proxy.log()}"
            time.sleep(0.05)
        yield proxy
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
