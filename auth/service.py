"""Tenants and credentials: the tenant tree, slow-hashed secrets, roles, expiry and
revocation, and turning an Authorization header into a Principal."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth import store, tokens
from auth.models import ROLE_GRANTS, Principal, Role, Scope
from auth.store import CredentialRow, TenantRow
from lrs.errors import BadRequest, Conflict, NotFound, Unauthorized

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


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


def parse_scopes(names: str | Iterable[str], field: str = "scopes") -> list[Scope]:
    """Scopes as a comma or space separated text, or as a list of names."""
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    try:
        return [Scope(name) for name in names if name]
    except ValueError:
        known = ", ".join(scope.value for scope in Scope)
        raise BadRequest(f"unknown scope in {names!r}; known scopes: {known}", field) from None


def parse_role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise BadRequest(f"unknown role {name!r}; known roles: {known}", "role") from None


def authority_for(key: str, name: str, public_url: str) -> dict[str, Any]:
    """xAPI-Data 2.4.9: the credential's Agent, identified by an account on this LRS."""
    return {"objectType": "Agent", "name": name, "account": {"homePage": public_url, "name": key}}


# Tenants


async def tenant_named(session: AsyncSession, name: str) -> TenantRow:
    tenant = await store.tenant_by_name(session, name)
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}", "tenant")
    return tenant


async def create_tenant(
    session: AsyncSession,
    name: str,
    parent: TenantRow | None = None,
    retention_days: int | None = None,
) -> TenantRow:
    if not _TENANT_NAME.fullmatch(name):
        raise BadRequest(
            "a tenant name is 1 to 200 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            "name",
        )
    check_retention_days(retention_days)
    if await store.tenant_by_name(session, name) is not None:
        raise Conflict(f"a tenant named {name!r} exists already", "name")
    return await store.insert_tenant(session, name, parent, retention_days, datetime.now(UTC))


async def ensure_tenant(session: AsyncSession, name: str) -> TenantRow:
    """The tenant of this name, created as a root tenant if it does not exist."""
    return await store.tenant_by_name(session, name) or await create_tenant(session, name)


MAX_RETENTION_DAYS = 36_500


def check_retention_days(days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
        raise BadRequest(
            f"retention_days is a number of days from 1 to {MAX_RETENTION_DAYS}", "retention_days"
        )


async def effective_retention(session: AsyncSession) -> dict[int, int]:
    """Tenant id -> retention in days: the shortest policy of the tenant and its ancestors.
    The group sets the rule; a subsidiary may keep records for less time, never for more."""
    tenants = await store.all_tenants(session)
    by_id = {tenant.id: tenant for tenant in tenants}
    effective: dict[int, int] = {}
    for tenant in tenants:
        policies = [
            days
            for part in tenant.path.strip("/").split("/")
            if (days := by_id[int(part)].retention_days) is not None
        ]
        if policies:
            effective[tenant.id] = min(policies)
    return effective


# Credentials


@dataclass(frozen=True)
class NewCredential:
    """A credential just made: the only moment its secret is known."""

    row: CredentialRow
    secret: str


async def create_credential(
    session: AsyncSession,
    *,
    tenant: TenantRow,
    key: str | None = None,
    secret: str | None = None,
    role: Role | None = None,
    scopes: Iterable[Scope] = (),
    rollup: bool | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> NewCredential:
    """A key/secret pair on `tenant`. Its scopes are the role's plus any named; it rolls up
    when the role does, unless `rollup` says otherwise. Key and secret are generated when
    not given; the secret is stored only as a slow hash."""
    granted = set(scopes)
    if role is not None:
        granted |= ROLE_GRANTS[role].scopes
    if not granted:
        raise BadRequest("a credential needs a role or at least one scope", "scopes")
    key = key or f"k-{secrets.token_hex(10)}"
    secret = secret or secrets.token_urlsafe(24)
    if len(secret) < 8:
        raise BadRequest("a secret has at least 8 characters", "secret")
    if await store.credential_by_key(session, key) is not None:
        raise Conflict(f"a credential with key {key!r} already exists", "key")
    now = datetime.now(UTC)
    if expires_at is not None and expires_at <= now:
        raise BadRequest("expires_at is in the past", "expires_at")
    values = {
        "tenant_id": tenant.id,
        "key": key,
        "secret_hash": hash_secret(secret),
        "scopes": sorted(scope.value for scope in granted),
        "role": role and role.value,
        "rollup": rollup if rollup is not None else bool(role and ROLE_GRANTS[role].rollup),
        "name": name or key,
        "created_at": now,
        "expires_at": expires_at,
    }
    credential_id = await store.insert_credential(session, values)
    row = await store.credential_by_id(session, credential_id)
    assert row is not None
    return NewCredential(row, secret)


async def ensure_admin_credential(
    session: AsyncSession, *, tenant: str, key: str, secret: str
) -> None:
    """Start-up: the configured admin credential exists. It is made with every xAPI scope
    (`all`), `admin` and `cmi5/launch`, rolling up over its tenant's subtree."""
    if await store.credential_by_key(session, key) is None:
        await create_credential(
            session,
            tenant=await ensure_tenant(session, tenant),
            key=key,
            secret=secret,
            scopes=[Scope.ALL, Scope.ADMIN, Scope.CMI5_LAUNCH],
            rollup=True,
            name="admin",
        )


async def revoke_credential(session: AsyncSession, credential: CredentialRow) -> CredentialRow:
    if credential.revoked_at is None:
        revoked_at = datetime.now(UTC)
        await store.update_credential(session, credential.id, {"revoked_at": revoked_at})
        credential = replace(credential, revoked_at=revoked_at)
    return credential


async def revoke_credential_id(session: AsyncSession, credential_id: int) -> None:
    row = await store.credential_by_id(session, credential_id)
    if row is not None:
        await revoke_credential(session, row)


async def tenant_by_id(session: AsyncSession, tenant_id: int) -> TenantRow:
    tenant = await store.tenant_by_id(session, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant with id {tenant_id}", "tenant")
    return tenant


_UNKNOWN_KEY_HASH = hash_secret(secrets.token_urlsafe(16))


class Authenticator:
    """Turns an Authorization header (HTTP Basic, or a bearer token from /oauth/token) into
    a Principal.

    A verified credential is trusted for `ttl` seconds, so the slow hash runs once per
    credential and minute rather than once per request. Expiry is checked on every request;
    a revocation takes effect at once in the process that made it (`forget`) and within
    `ttl` in the others."""

    def __init__(self, public_url: str, ttl: float, token_secret: str) -> None:
        self._public_url = public_url
        self._ttl = ttl
        self._token_secret = token_secret
        self._by_key: dict[str, tuple[bytes, Principal, float]] = {}
        self._by_id: dict[int, tuple[Principal, float]] = {}
        # One slow verification per key at a time: clients that start with many concurrent
        # requests wait for the first one's answer instead of each paying the hash.
        self._verifying: dict[str, asyncio.Lock] = {}
        # Bumped by forget(): a verification that began before it must not be cached.
        self._generation = 0

    def forget(self) -> None:
        """Drop every trusted credential (after revocations and tenant tree changes)."""
        self._generation += 1
        self._by_key.clear()
        self._by_id.clear()

    async def authenticate(self, session: AsyncSession, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthorized("this resource needs HTTP Basic credentials", "Authorization")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return await self._bearer(session, value.strip())
        if scheme.lower() != "basic":
            raise Unauthorized("use HTTP Basic or a Bearer token", "Authorization")
        return await self.verify_basic(session, *_basic_credentials(value))

    async def verify_basic(self, session: AsyncSession, key: str, secret: str) -> Principal:
        """A client's key and secret, from a Basic header or the token endpoint's form."""
        fingerprint = hashlib.sha256(secret.encode()).digest()
        cached = self._cached(key, fingerprint)
        if cached is not None:
            return cached
        lock = self._verifying.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                return self._cached(key, fingerprint) or await self._verify(
                    session, key, secret, fingerprint
                )
        finally:
            if not lock.locked():
                self._verifying.pop(key, None)

    def _cached(self, key: str, fingerprint: bytes) -> Principal | None:
        cached = self._by_key.get(key)
        if (
            cached is not None
            and cached[2] > time.monotonic()
            and hmac.compare_digest(cached[0], fingerprint)
        ):
            return _unexpired(cached[1])
        return None

    async def _verify(
        self, session: AsyncSession, key: str, secret: str, fingerprint: bytes
    ) -> Principal:
        generation = self._generation
        row = await store.credential_by_key(session, key)
        # An unknown key costs the same slow hash, so timing does not tell which keys exist.
        # The hash runs in a thread: it holds no lock the event loop needs.
        known_hash = row.secret_hash if row else _UNKNOWN_KEY_HASH
        if not await asyncio.to_thread(verify_secret, secret, known_hash) or row is None:
            raise Unauthorized("unknown credential or wrong secret", "Authorization")
        principal = await self._admit(session, row)
        if generation == self._generation:
            self._by_key[key] = (fingerprint, principal, time.monotonic() + self._ttl)
        return principal

    async def _bearer(self, session: AsyncSession, token: str) -> Principal:
        claims = tokens.verify(token, self._token_secret, self._public_url)
        now = time.monotonic()
        cached = self._by_id.get(claims.credential_id)
        if cached is not None and cached[1] > now:
            principal = cached[0]
        else:
            row = await store.credential_by_id(session, claims.credential_id)
            if row is None:
                raise Unauthorized("the token's credential no longer exists", "Authorization")
            principal = await self._admit(session, row)
            self._by_id[claims.credential_id] = (principal, now + self._ttl)
        # A token never grants more than its credential holds now.
        return _unexpired(replace(principal, scopes=principal.scopes & claims.scopes))

    async def _admit(self, session: AsyncSession, row: CredentialRow) -> Principal:
        """The principal of a credential read from the database; records its use."""
        if row.revoked_at is not None:
            raise Unauthorized("this credential has been revoked", "Authorization")
        tenant = await store.tenant_by_id(session, row.tenant_id)
        assert tenant is not None
        readable = (
            tuple(t.id for t in await store.subtree(session, tenant.path))
            if row.rollup
            else (tenant.id,)
        )
        principal = Principal(
            tenant_id=row.tenant_id,
            credential_id=row.id,
            key=row.key,
            scopes=frozenset(Scope(scope) for scope in row.scopes),
            authority=authority_for(row.key, row.name, self._public_url),
            read_tenant_ids=readable,
            expires_at=row.expires_at,
            rollup=row.rollup,
        )
        _unexpired(principal)
        # Committed on its own: use is recorded even when the request then fails.
        await store.update_credential(session, row.id, {"last_used_at": datetime.now(UTC)})
        await session.commit()
        return principal


def _unexpired(principal: Principal) -> Principal:
    if principal.expires_at is not None and principal.expires_at <= datetime.now(UTC):
        raise Unauthorized("this credential has expired", "Authorization")
    return principal


def _basic_credentials(encoded: str) -> tuple[str, str]:
    """xAPI-Communication 4.0: HTTP Basic; malformed credentials are a 401."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials", "Authorization") from None
    key, colon, secret = decoded.partition(":")
    if not colon or not key:
        raise Unauthorized("malformed Basic credentials", "Authorization")
    return key, secret
