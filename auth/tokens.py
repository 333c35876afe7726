"""OAuth 2 client-credentials bearer tokens (RFC 6749 4.4): short-lived, HMAC-signed JWTs
that name the credential and the scopes granted. Holding no state, they cannot be revoked
one by one; revoking the credential ends all of its tokens, and their lifetime is short."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from auth.models import Principal, Scope
from lrs.errors import Unauthorized

_ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenClaims:
    credential_id: int
    scopes: frozenset[Scope]


def issue(
    principal: Principal, scopes: frozenset[Scope], secret: str, issuer: str, seconds: int
) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": issuer,
        "sub": principal.key,
        "cid": principal.credential_id,
        "scope": " ".join(sorted(scopes)),
        "iat": now,
        "exp": now + timedelta(seconds=seconds),
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify(token: str, secret: str, issuer: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "iss", "cid", "scope"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the bearer token has expired", "Authorization") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("the bearer token is not valid here", "Authorization") from None
    try:
        return TokenClaims(
            int(claims["cid"]), frozenset(Scope(name) for name in str(claims["scope"]).split())
        )
    except ValueError:
        raise Unauthorized("the bearer token is not valid here", "Authorization") from None
