"""Access tokens (JWT, HS256 only) and opaque refresh tokens."""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"
VERIFIED_TOKENS = 4096  # per process; a token is ~300 bytes
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud", "jti", "typ"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    expires_at: datetime
    issued_at: float
    """Seconds since the epoch, to the microsecond: revocations compare against it."""


class TokenError(Exception):
    """The access token is malformed, forged or not an access token."""


class TokenExpired(TokenError):
    """A genuine access token past its expiry: the client should refresh it."""


class TokenService:
    def __init__(
        self, secret_key: str, issuer: str, audience: str, access_ttl: int, refresh_ttl: int
    ) -> None:
        self._key = secret_key
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = timedelta(seconds=access_ttl)
        self.refresh_ttl = timedelta(seconds=refresh_ttl)
        # Verifying costs more than the rest of a small request's auth, and clients
        # send one token for its whole life: remember verified tokens (a bounded
        # LRU; failures raise, so they are never cached).
        self._verify_cached = functools.lru_cache(maxsize=VERIFIED_TOKENS)(self._verify)

    def issue_access(self, user_id: str, now: datetime) -> tuple[str, datetime]:
        """A signed access token for `user_id`, and when it expires. No personal data."""
        expires_at = now + self.access_ttl
        claims = {
            "sub": user_id,
            # Fractional (RFC 7519 allows it): a token issued just after a revocation,
            # in the same second, must not fall under it (security/revocations.py).
            "iat": now.timestamp(),
            "exp": int(expires_at.timestamp()),
            "iss": self.issuer,
            "aud": self.audience,
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return token, expires_at.replace(microsecond=0)

    def decode_access(self, token: str, now: datetime) -> AccessClaims:
        """Verify signature (HS256 pinned), issuer, audience, type and expiry at `now`."""
        subject, exp, iat = self._verify_cached(token)
        # Time is checked on every call, against the injected clock: only the
        # signature and the fixed claims are remembered per token.
        if iat > now.timestamp() + 60:
            raise TokenError("issued in the future")
        if exp <= now.timestamp():
            raise TokenExpired("expired")
        return AccessClaims(
            user_id=subject, expires_at=datetime.fromtimestamp(exp, now.tzinfo), issued_at=iat
        )

    def _verify(self, token: str) -> tuple[str, int, float]:
        """Subject, exp and iat of a token whose signature and fixed claims check out."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        exp, iat, sub = claims["exp"], claims["iat"], claims["sub"]
        if not isinstance(exp, int) or not _finite_number(iat):
            raise TokenError("bad time claims")
        if claims["typ"] != "access" or not isinstance(sub, str) or not sub:
            raise TokenError("not an access token")
        return sub, exp, float(iat)


def new_refresh_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What storage keeps: the token has 256 random bits, so a fast hash suffices."""
    # surrogatepass: a forged token with a lone surrogate hashes (and matches nothing).
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_family_id() -> str:
    return uuid.uuid4().hex


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
