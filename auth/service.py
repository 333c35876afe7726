"""Credentials: slow-hashed secrets, Basic authentication, the authority a credential writes as."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth import store
from auth.models import Principal, Scope
from lrs.errors import BadRequest, Unauthorized

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    salt_text, digest_text = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt_text}${digest_text}"


def verify_secret(secret: str, secret_hash: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = secret_hash.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def parse_scopes(text: str) -> list[Scope]:
    """Scopes as given on the command line: comma or space separated."""
    names = [name for name in text.replace(",", " ").split() if name]
    try:
        return [Scope(name) for name in names]
    except ValueError:
        known = ", ".join(scope.value for scope in Scope)
        raise BadRequest(f"unknown scope in {text!r}; known scopes: {known}", "scopes") from None


def authority_for(key: str, name: str, public_url: str) -> dict[str, Any]:
    """xAPI-Data 2.4.9: the credential's Agent, identified by an account on this LRS."""
    return {"objectType": "Agent", "name": name, "account": {"homePage": public_url, "name": key}}


async def ensure_tenant(session: AsyncSession, name: str) -> int:
    tenant_id = await store.tenant_id_by_name(session, name)
    return tenant_id if tenant_id is not None else await store.insert_tenant(session, name)


async def create_credential(
    session: AsyncSession, *, tenant: str, key: str, secret: str, scopes: list[Scope], name: str
) -> int:
    if await store.credential_by_key(session, key) is not None:
        raise BadRequest(f"a credential with key {key!r} already exists", "key")
    tenant_id = await ensure_tenant(session, tenant)
    return await store.insert_credential(
        session,
        tenant_id=tenant_id,
        key=key,
        secret_hash=hash_secret(secret),
        scopes=[scope.value for scope in scopes],
        name=name,
    )


async def ensure_admin_credential(
    session: AsyncSession, *, tenant: str, key: str, secret: str
) -> None:
    """Start-up: the configured admin credential exists (created with scope `all` if absent)."""
    if await store.credential_by_key(session, key) is None:
        await create_credential(
            session, tenant=tenant, key=key, secret=secret, scopes=[Scope.ALL], name="admin"
        )


class Authenticator:
    """Checks HTTP Basic credentials; a verified key/secret pair is trusted for `ttl` seconds
    so that the slow hash runs once per credential and minute, not once per request."""

    def __init__(self, public_url: str, ttl: float) -> None:
        self._public_url = public_url
        self._ttl = ttl
        self._verified: dict[str, tuple[bytes, Principal, float]] = {}

    async def authenticate(self, session: AsyncSession, authorization: str | None) -> Principal:
        key, secret = _basic_credentials(authorization)
        fingerprint = hashlib.sha256(secret.encode()).digest()
        cached = self._verified.get(key)
        now = time.monotonic()
        if cached is not None and cached[2] > now and hmac.compare_digest(cached[0], fingerprint):
            return cached[1]
        row = await store.credential_by_key(session, key)
        if row is None or not verify_secret(secret, row.secret_hash):
            raise Unauthorized("unknown credential or wrong secret", "Authorization")
        principal = Principal(
            tenant_id=row.tenant_id,
            credential_id=row.id,
            key=row.key,
            scopes=frozenset(Scope(scope) for scope in row.scopes),
            authority=authority_for(row.key, row.name, self._public_url),
        )
        self._verified[key] = (fingerprint, principal, now + self._ttl)
        return principal


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    """xAPI-Communication 4.0: HTTP Basic; missing or malformed credentials are a 401."""
    if not authorization:
        raise Unauthorized("this resource needs HTTP Basic credentials", "Authorization")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized("only HTTP Basic authentication is supported", "Authorization")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials", "Authorization") from None
    key, colon, secret = decoded.partition(":")
    if not colon or not key:
        raise Unauthorized("malformed Basic credentials", "Authorization")
    return key, secret
