"""Per-request DataLoaders over storage: one storage call per batch, whatever the page size.

Only the services use them (services/__init__.py makes one set per request).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graphql_app.models import Page, Position, Todo, TodoCounts, User
from graphql_app.storage import Storage
from graphql_app.validation import is_storable


@dataclass(frozen=True, slots=True)
class PageKey:
    user_id: str
    size: int
    cursor: Position | None
    is_completed: bool | None
    with_count: bool
    backward: bool  # last/before rather than first/after


class Loaders:
    """Made per request; each loader only when a resolver first asks for it."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @functools.cached_property
    def users(self) -> DataLoader[str, User | None]:
        return DataLoader(load_fn=self._load_users)

    @functools.cached_property
    def todos(self) -> DataLoader[tuple[str, str], Todo | None]:
        """Keyed by (owner id, todo id): another user's todo loads as None."""
        return DataLoader(load_fn=self._load_todos)

    @functools.cached_property
    def pages(self) -> DataLoader[PageKey, Page]:
        return DataLoader(load_fn=self._load_pages)

    @functools.cached_property
    def counts(self) -> DataLoader[str, TodoCounts]:
        """Keyed by owner id: the counters behind a totalCount asked for without its page."""
        return DataLoader(load_fn=self._storage.count_todos)

    async def _load_users(self, ids: Sequence[str]) -> list[User | None]:
        return await self._storage.get_users(ids)

    async def _load_todos(self, keys: Sequence[tuple[str, str]]) -> list[Todo | None]:
        by_owner: dict[str, list[str]] = {}
        for owner, todo_id in keys:
            if is_storable(todo_id):  # no stored id looks otherwise
                by_owner.setdefault(owner, []).append(todo_id)
        found: dict[tuple[str, str], Todo | None] = dict.fromkeys(keys)
        for owner, ids in by_owner.items():
            for todo_id, todo in zip(ids, await self._storage.get_todos(owner, ids), strict=True):
                found[owner, todo_id] = todo
        return [found[key] for key in keys]

    async def _load_pages(self, keys: Sequence[PageKey]) -> list[Page]:
        # Keys are deduplicated by the loader; a request normally asks for one
        # or two distinct pages (the caller's list, and its creator's list).
        return list(await asyncio.gather(*(self._load_page(k) for k in keys)))

    async def _load_page(self, key: PageKey) -> Page:
        load = self._storage.list_todos_before if key.backward else self._storage.list_todos
        return await load(
            key.user_id, key.size, key.cursor, key.is_completed, with_count=key.with_count
        )
