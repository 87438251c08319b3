"""Accounts and sessions: sign-up, log-in, refresh rotation, revocation, user reads.

The auth mutations that the rate limits count (sign-up, log-in, refresh) take
the client's IP address: the HTTP layer knows it (behind trusted proxies,
uvicorn's ProxyHeadersMiddleware has put it in the ASGI scope), the rules here
use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from graphql_app.errors import AuthReason, BadUserInput, Unauthenticated, UserGone
from graphql_app.models import NewSession, RotateOutcome, User
from graphql_app.security.tokens import hash_refresh_token, new_family_id, new_refresh_token
from graphql_app.services.deps import Deps
from graphql_app.services.loaders import Loaders
from graphql_app.time_limit import write_begins
from graphql_app.validation import (
    Problems,
    check_password,
    clean_email,
    clean_fullname,
    is_storable,
    normalise_email,
)

INVALID_CREDENTIALS = "Invalid email or password"


@dataclass(frozen=True, slots=True)
class AuthResult:
    token: str
    refresh_token: str
    expires_at: datetime
    user_id: str


class AccountService:
    """The accounts of one request's callers (made per request: it holds its DataLoaders)."""

    def __init__(self, deps: Deps, loaders: Loaders) -> None:
        self.deps = deps
        self.loaders = loaders

    async def user(self, user_id: str) -> User:
        """The user; UNAUTHENTICATED (UserGone) when the account no longer exists.

        A user is only ever asked for as an account its requester has proven to
        own: the caller, the creator of the caller's own todos, or the user of
        the tokens just issued.
        """
        user = await self.loaders.users.load(user_id)
        if user is None:
            raise UserGone()
        return user

    def _new_session(self, now: datetime, family_id: str | None = None) -> tuple[str, NewSession]:
        token = new_refresh_token()
        session = NewSession(
            family_id=family_id or new_family_id(),
            token_hash=hash_refresh_token(token),
            expires_at=now + self.deps.tokens.refresh_ttl,
        )
        return token, session

    def _result(
        self, user_id: str, refresh_token: str, now: datetime, user: User | None
    ) -> AuthResult:
        token, expires_at = self.deps.tokens.issue_access(user_id, now)
        if user is not None:  # what the payload's `user` field will ask for
            self.loaders.users.prime(user_id, user)
        return AuthResult(token, refresh_token, expires_at, user_id)

    async def sign_up(self, email: str, fullname: str, password: str, client: str) -> AuthResult:
        """Create the account and log it in; `client` is the caller's IP address."""
        await self.deps.rate_limits.hit_client(client)
        problems = Problems()
        email = clean_email(problems, "input.email", email)
        fullname = clean_fullname(problems, "input.fullname", fullname)
        check_password(problems, "input.password", password)
        problems.check()
        password_hash = await self.deps.passwords.hash(password)
        now = self.deps.clock()
        refresh_token, session = self._new_session(now)
        write_begins()
        user = await self.deps.storage.create_user(email, fullname, password_hash, session, now)
        return self._result(user.id, refresh_token, now, user)

    async def log_in(self, email: str, password: str, client: str) -> AuthResult:
        """A new session for the right email and password; `client` is the caller's IP."""
        limits = self.deps.rate_limits
        await limits.hit_client(client)
        email = normalise_email(email)
        # Checked before the password: once an account's failures are spent, even
        # the right password is refused, or guessing would go on undetected.
        await limits.check_account(email, client)
        # An email no backend can store belongs to nobody (and would not encode).
        user = await self.deps.storage.get_user_by_email(email) if is_storable(email) else None
        # Always one bcrypt check, also for an unknown email or an impossible password.
        ok = await self.deps.passwords.verify(password, user.password_hash if user else None)
        if user is None or not ok:
            await limits.record_failed_login(email, client)
            raise Unauthenticated(INVALID_CREDENTIALS, AuthReason.INVALID_CREDENTIALS)
        now = self.deps.clock()
        refresh_token, session = self._new_session(now)
        write_begins()
        await self.deps.storage.create_session(user.id, session, now)
        return self._result(user.id, refresh_token, now, user)

    async def refresh(self, refresh_token: str, client: str) -> AuthResult:
        """Rotate the refresh token into a new pair; `client` is the caller's IP address."""
        await self.deps.rate_limits.hit_client(client)
        now = self.deps.clock()
        successor, session = self._new_session(now)
        write_begins()
        result = await self.deps.storage.rotate_session(
            hash_refresh_token(refresh_token), session, now
        )
        if result.outcome is RotateOutcome.REUSED:
            raise Unauthenticated(
                "Refresh token already used; its session is revoked, log in again",
                AuthReason.REFRESH_TOKEN_REUSED,
            )
        if result.outcome is not RotateOutcome.ROTATED or result.user_id is None:
            raise Unauthenticated("Invalid refresh token", AuthReason.REFRESH_TOKEN_INVALID)
        return self._result(result.user_id, successor, now, None)

    async def log_out(self, refresh_token: str) -> bool:
        write_begins()
        return await self.deps.storage.revoke_session(
            hash_refresh_token(refresh_token), self.deps.clock()
        )

    async def _check_password(self, user_id: str, password: str, argument: str) -> None:
        (user,) = await self.deps.storage.get_users([user_id])
        if user is None:
            raise UserGone()
        if not await self.deps.passwords.verify(password, user.password_hash):
            raise BadUserInput({argument: "Password is incorrect"})

    # Each of these revokes the user's tokens first: should the change itself then
    # fail, the tokens are gone for nothing, never left alive after it.

    async def change_password(self, user_id: str, current: str, new: str) -> bool:
        problems = Problems()
        check_password(problems, "newPassword", new)
        problems.check()
        await self._check_password(user_id, current, "currentPassword")
        password_hash = await self.deps.passwords.hash(new)
        write_begins()
        await self.deps.revocations.revoke(user_id)
        if not await self.deps.storage.set_password(user_id, password_hash, self.deps.clock()):
            raise UserGone()
        return True

    async def delete_account(self, user_id: str, password: str) -> bool:
        await self._check_password(user_id, password, "password")
        write_begins()
        await self.deps.revocations.revoke(user_id)
        if not await self.deps.storage.delete_user(user_id):
            raise UserGone()
        return True

    async def log_out_everywhere(self, user_id: str) -> bool:
        """Revoke every access and refresh token of the user, on every instance."""
        write_begins()
        await self.deps.revocations.revoke(user_id)
        return True
