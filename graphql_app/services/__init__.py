"""The rules of the product, between the schema and storage: every read and write.

create_app builds one ServiceFactory per process over the shared Deps
(services/deps.py); the GraphQL context asks it for each request's (or each
WebSocket connection's) Services, which share that request's DataLoaders
(services/loaders.py), so reads batch across resolvers.
"""

from __future__ import annotations

from graphql_app.services.deps import Deps
from graphql_app.services.identity import IdentityService
from graphql_app.services.loaders import Loaders
from graphql_app.services.todos import TodoService
from graphql_app.services.users import AccountService


class Services:
    """The services of one request or WebSocket connection."""

    __slots__ = ("_deps", "accounts", "identity", "todos")

    def __init__(self, deps: Deps, identity: IdentityService) -> None:
        loaders = Loaders(deps.storage)
        self._deps = deps
        self.identity = identity
        self.accounts = AccountService(deps, loaders)
        self.todos = TodoService(deps, loaders, identity)

    def renewed(self) -> Services:
        """The same services with empty DataLoaders: for the next operation on a
        WebSocket, which must not read what the connection's earlier ones cached."""
        return Services(self._deps, self.identity)


class ServiceFactory:
    """Made once per process; makes each request's Services."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._identity = IdentityService(deps)

    def for_request(self) -> Services:
        """Services with DataLoaders of their own: one request's (or connection's) reads."""
        return Services(self._deps, self._identity)


__all__ = ["ServiceFactory", "Services"]
