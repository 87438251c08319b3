"""Settings from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import ipaddress
import logging
import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from limits import parse_many
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from strawberry.http.websocket_origin import normalize_allowed_origins

log = logging.getLogger("graphql_app.settings")

DEV_SECRET_FILE = Path(".secret_key")
MIN_SECRET_BYTES = 32


class SettingsError(Exception):
    """A bad configuration value; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = ""
    fauna_secret: str = Field(default="", repr=False)
    fauna_domain: str = "127.0.0.1"
    fauna_scheme: Literal["http", "https"] = "http"
    fauna_port: int | None = None
    secret_key: str = Field(default="", repr=False)
    # 1 second is the JWT `exp` resolution; lifetimes of a few seconds let end-to-end
    # tests watch a real process end a subscription at token expiry.
    access_token_ttl: int = Field(default=900, ge=1, le=86_400)
    refresh_token_ttl: int = Field(default=2_592_000, ge=60, le=31_536_000)
    jwt_issuer: str = "graphql_app"
    jwt_audience: str = "graphql_app"
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    redis_url: str = ""
    auth_rate_limit: str = "20/minute"
    # Failed log-ins per (account, client IP), and per account across every IP.
    login_account_rate_limit: str = "10/15 minutes"
    login_account_ceiling: str = "100/hour"
    # Addresses (IPs or CIDR networks, comma-separated; "*" for any) of the reverse
    # proxies whose X-Forwarded-For / X-Forwarded-Proto are believed. Empty: none.
    forwarded_allow_ips: str = ""
    # Replaced by FORWARDED_ALLOW_IPS; kept only to refuse it with a clear line.
    trust_forwarded_for: bool | None = Field(default=None, deprecated="use FORWARDED_ALLOW_IPS")
    # Every Redis key and channel starts with this, so environments can share a server.
    redis_key_prefix: str = Field(default="graphql_app", min_length=1, max_length=100)
    cors_origins: str = ""
    graphiql: bool | None = None
    introspection: bool | None = None
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    db_query_timeout: float = Field(default=10.0, gt=0, le=600)
    password_hash_threads: int = Field(default=2, ge=1, le=64)
    max_query_depth: int = Field(default=10, ge=1)
    max_aliases: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=2000, ge=10)
    # Array batching (Apollo's BatchHttpLink) is off unless asked for, as in Apollo Server 4.
    batch_requests: bool = False
    max_batch_size: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=100_000, ge=1024)
    # HTTP hardening (README "Security and limits"): fields once fragments are
    # inlined, validation errors returned, seconds per request, APQ cache.
    max_fields: int = Field(default=2000, ge=10)
    max_validation_errors: int = Field(default=5, ge=1, le=100)
    # The same field (response key) in one selection set: graphql-core compares each pair.
    max_field_repeats: int = Field(default=10, ge=1, le=1000)
    request_timeout: float = Field(default=30.0, gt=0, le=3600)
    apq_cache_size: int = Field(default=1000, ge=1)
    apq_ttl: int = Field(default=86_400, ge=60)
    # Connections (graphql_app/http/server_protocol.py): request line and headers,
    # seconds to receive them, seconds a body may idle, open connections per process.
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    header_timeout: float = Field(default=10.0, gt=0, le=3600)
    body_idle_timeout: float = Field(default=10.0, gt=0, le=3600)
    max_connections: int = Field(default=2048, ge=1, le=1_000_000)
    csrf_prevention: bool = True
    # /metrics: on the API's port in development; in production only when asked for,
    # on METRICS_PORT (a listener of its own, the Prometheus convention) or METRICS=on.
    metrics: bool | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    max_subscriptions_per_connection: int = Field(default=20, ge=1)
    # Seconds between WebSocket keep-alives (graphql-ws `ka`, graphql-transport-ws `ping`).
    ws_keep_alive_interval: float = Field(default=15.0, ge=0.05, le=3600)
    # On SIGTERM: seconds in-flight requests get to finish before they are cancelled.
    shutdown_grace_seconds: int = Field(default=20, ge=0, le=3600)
    # On SIGTERM: seconds /readyz answers 503 while still serving, before the listener
    # closes (README "Deploying"). Unset: 5 in production, 0 in development.
    shutdown_drain_seconds: float | None = Field(default=None, ge=0, le=600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_name(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("auth_rate_limit", "login_account_rate_limit", "login_account_ceiling")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # raises ValueError on bad notation
        return value.strip()

    @field_validator("trust_forwarded_for")
    @classmethod
    def _replaced(cls, value: bool | None) -> bool | None:
        if value is not None:
            raise ValueError(
                "replaced by FORWARDED_ALLOW_IPS, the addresses of your reverse proxies"
                " (e.g. FORWARDED_ALLOW_IPS=127.0.0.1)"
            )
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",")):
            if entry and entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and value.split(":", 1)[0].lower() not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        # The same list governs WebSocket handshakes: each entry an origin (or `*`).
        origins = [o.strip() for o in value.split(",") if o.strip()]
        try:
            normalize_allowed_origins(origins)
        except ValueError:
            raise ValueError(
                "each origin must be `*` or scheme://host[:port], without a path"
            ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].lower()
        if value and scheme not in ("sqlite", "postgresql", "postgres", "fauna"):
            raise ValueError("must start with sqlite://, postgresql:// or fauna://")
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment == "production":
            if not self.secret_key:
                raise ValueError("SECRET_KEY is required in production")
            if len(self.secret_key.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production"
                )
        elif self.secret_key and len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.is_production

    @property
    def metrics_on_api_port(self) -> bool:
        """Whether the API's own listener serves /metrics."""
        if self.metrics_port is not None or self.metrics is False:
            return False
        return self.metrics is True or not self.is_production

    @property
    def metrics_listener(self) -> tuple[str, int] | None:
        """The separate listener for /metrics, when METRICS_PORT asks for one."""
        if self.metrics_port is None or self.metrics is False:
            return None
        return self.metrics_host, self.metrics_port

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def drain_seconds(self) -> float:
        if self.shutdown_drain_seconds is not None:
            return self.shutdown_drain_seconds
        return 5.0 if self.is_production else 0.0

    @property
    def forwarded_allow_list(self) -> list[str]:
        return [e.strip() for e in self.forwarded_allow_ips.split(",") if e.strip()]

    @property
    def storage_url(self) -> str:
        """DATABASE_URL, else the seed's FAUNA_SECRET, else the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        if self.fauna_secret:
            port = f":{self.fauna_port}" if self.fauna_port else ""
            secret = quote(self.fauna_secret, safe="")
            return f"fauna://{secret}@{self.fauna_domain}{port}?scheme={self.fauna_scheme}"
        return "sqlite:///./todo.db"


def _first_error_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]).upper()
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def load_settings(**overrides: object) -> Settings:
    """Read and check the settings; SettingsError with one clear line when a value is bad.

    In development without a SECRET_KEY, a random one is generated once and
    kept in `.secret_key` (git-ignored) so tokens survive restarts.
    """
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_first_error_line(exc)) from None
    if not settings.secret_key:
        settings = settings.model_copy(update={"secret_key": _development_secret()})
    return settings


def _development_secret() -> str:
    if DEV_SECRET_FILE.exists():
        key = DEV_SECRET_FILE.read_text().strip()
        if len(key.encode()) >= MIN_SECRET_BYTES:
            return key
    key = secrets.token_urlsafe(48)
    DEV_SECRET_FILE.write_text(key + "\n")
    DEV_SECRET_FILE.chmod(0o600)
    log.warning(
        "SECRET_KEY is not set: generated a development key in %s (set SECRET_KEY in production)",
        DEV_SECRET_FILE,
    )
    return key
