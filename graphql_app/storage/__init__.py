"""Storage backends, chosen by the database URL's scheme.

Each backend lives in its own module and is imported only when chosen, so a
deployment needs only the driver of the database it uses.
"""

from __future__ import annotations

from graphql_app.storage.base import Storage


def open_storage(url: str, *, pool_size: int = 10, query_timeout: float = 10.0) -> Storage:
    """Build (without connecting) the backend that `url` names."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from graphql_app.storage.sqlite import SQLiteStorage

        return SQLiteStorage.from_url(url)
    if scheme in ("postgresql", "postgres"):
        from graphql_app.storage.postgres import PostgresStorage

        return PostgresStorage(url, pool_size=pool_size, query_timeout=query_timeout)
    if scheme == "fauna":
        from graphql_app.storage.fauna import FaunaStorage

        return FaunaStorage.from_url(url, pool_size=pool_size, query_timeout=query_timeout)
    raise ValueError(f"unsupported database URL scheme {scheme!r}")


__all__ = ["Storage", "open_storage"]
