"""The rules of the document resources: State (xAPI-Communication 2.3), Agent Profile (2.6)
and Activity Profile (2.7), with JSON merge (2.2) and concurrency control (3.1).

Services never commit: the route owns the request's one transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Principal, Scope
from documents import store
from documents.store import StoredDocument
from lrs.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from lrs.versions import XAPIVersion

# How often a header-less write retries when a concurrent one changed the document between
# its read and its write (then 409). On PostgreSQL the read locks the row, so only writers
# creating the document at once retry, once; on SQLite a failed write holds the write lock
# when it reads again, so a second round succeeds. A bound, not a number that is reached.
_WRITE_ATTEMPTS = 5


class DocumentKind(StrEnum):
    STATE = "state"
    ACTIVITY_PROFILE = "activity_profile"
    AGENT_PROFILE = "agent_profile"

    @property
    def scope(self) -> Scope:
        return Scope.STATE if self is DocumentKind.STATE else Scope.PROFILE


@dataclass(frozen=True)
class DocumentScope:
    """The set a document belongs to: its resource, and its activity, agent, registration."""

    kind: DocumentKind
    activity_id: str | None = None
    agent: str | None = None  # IFI key (statements.validation.agent_ifi)
    registration: uuid.UUID | None = None

    @property
    def hash(self) -> str:
        parts = [
            self.kind.value,
            self.activity_id,
            self.agent,
            self.registration and str(self.registration),
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class Action(StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"


@dataclass(frozen=True)
class DocumentAccess:
    """One request's use of a document or of a scope's documents (`document_id` None)."""

    scope: DocumentScope
    document_id: str | None
    action: Action


DocumentCheck = Callable[[AsyncSession, Principal, DocumentAccess], Awaitable[None]]


@dataclass
class DocumentHooks:
    """How later domains (cmi5's session credentials) confine what a credential may do with
    documents, without `documents` importing them: each check runs before the request reads
    or writes anything, and raising an `XAPIError` refuses it. A check that records
    something on a read sets `session.info["commit_read"]`, so the read commits."""

    checks: list[DocumentCheck] = field(default_factory=list)


async def check_access(
    session: AsyncSession, principal: Principal, hooks: DocumentHooks, access: DocumentAccess
) -> None:
    for check in hooks.checks:
        await check(session, principal, access)


@dataclass(frozen=True)
class Preconditions:
    """If-Match / If-None-Match as lists of unquoted ETags ("*" for any)."""

    if_match: tuple[str, ...] | None = None
    if_none_match: tuple[str, ...] | None = None

    @property
    def given(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None


def parse_etags(header: str | None) -> tuple[str, ...] | None:
    if header is None:
        return None
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tags.append(tag.strip('"'))
    return tuple(tag for tag in tags if tag)


def _require(principal: Principal, kind: DocumentKind, *, read: bool) -> None:
    principal.require(*((kind.scope, Scope.ALL_READ) if read else (kind.scope,)))


def _check_preconditions(existing: StoredDocument | None, pre: Preconditions) -> None:
    """RFC 2616 14.24/14.26 as xAPI-Communication 3.1.s4 applies them: 412, nothing changed."""
    if pre.if_match is not None and (
        existing is None or ("*" not in pre.if_match and existing.etag not in pre.if_match)
    ):
        raise PreconditionFailed("If-Match does not match the document's current ETag", "If-Match")
    if (
        pre.if_none_match is not None
        and existing is not None
        and ("*" in pre.if_none_match or existing.etag in pre.if_none_match)
    ):
        raise PreconditionFailed(
            "the document exists and If-None-Match forbids that", "If-None-Match"
        )


def _check_unconditional_put(
    existing: StoredDocument | None, kind: DocumentKind, version: XAPIVersion
) -> None:
    """xAPI-Communication 3.1.s3/s4.b13-b15: a PUT without If-Match or If-None-Match may not
    overwrite a profile document (409, telling the client what to do). xAPI 2.0 extends that
    to State; 1.0.3 lets State be overwritten and (as ADL's suite checks) refuses a
    header-less profile PUT outright."""
    guarded = kind is not DocumentKind.STATE or version is XAPIVersion.V2
    if existing is not None and guarded:
        raise Conflict(
            "the document exists: GET it, then PUT again with If-Match set to its ETag "
            "(or If-None-Match: * to create only)",
            "If-Match",
        )
    if existing is None and kind is not DocumentKind.STATE and version is XAPIVersion.V1:
        raise BadRequest("a profile PUT needs an If-Match or If-None-Match header", "If-Match")


def _document(content_type: str | None, content: bytes) -> StoredDocument:
    return StoredDocument(
        content_type=content_type or "application/octet-stream",
        content=content,
        etag=hashlib.sha1(content).hexdigest(),  # noqa: S324 - xAPI-Communication 3.1 names SHA-1
        updated=datetime.now(UTC),
    )


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def _json_object(content: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise BadRequest(f"{what} is not a JSON object, so the documents cannot be merged", "body")
    return value


def _merged(existing: StoredDocument, content_type: str | None, content: bytes) -> StoredDocument:
    """xAPI-Communication 2.2.s7-s8: POSTed top-level properties overwrite the stored ones;
    both documents must be JSON objects, else 400."""
    if not (_is_json(content_type) and _is_json(existing.content_type)):
        raise BadRequest(
            "POST merges JSON objects only: both the stored and the sent document must be "
            "application/json",
            "Content-Type",
        )
    merged = {
        **_json_object(existing.content, "the stored document"),
        **_json_object(content, "the sent document"),
    }
    return _document("application/json", json.dumps(merged, ensure_ascii=False).encode())


async def get_document(
    session: AsyncSession, principal: Principal, scope: DocumentScope, document_id: str
) -> StoredDocument:
    _require(principal, scope.kind, read=True)
    found = await store.get(session, principal.tenant_id, scope.hash, document_id)
    if found is None:
        raise NotFound(f"no document with id {document_id!r} here", "id")
    return found


async def list_documents(
    session: AsyncSession, principal: Principal, scope: DocumentScope, since: datetime | None
) -> tuple[list[str], datetime | None]:
    _require(principal, scope.kind, read=True)
    return await store.list_ids(session, principal.tenant_id, scope.hash, since)


async def write_document(
    session: AsyncSession,
    principal: Principal,
    version: XAPIVersion,
    scope: DocumentScope,
    document_id: str,
    *,
    merge: bool,
    content_type: str | None,
    content: bytes,
    preconditions: Preconditions,
) -> StoredDocument:
    """PUT (`merge=False`) or POST (`merge=True`) of one document; returns what was stored."""
    _require(principal, scope.kind, read=False)
    if merge and _is_json(content_type):
        _json_object(content, "the sent document")
    for _ in range(_WRITE_ATTEMPTS):
        existing = await store.get(
            session, principal.tenant_id, scope.hash, document_id, for_update=True
        )
        _check_preconditions(existing, preconditions)
        if not merge and not preconditions.given:
            _check_unconditional_put(existing, scope.kind, version)
        if existing is None:
            new = _document(content_type, content)
            if await store.insert_if_absent(
                session, principal.tenant_id, scope.hash, document_id, new, scope.agent
            ):
                return new
        else:
            new = (
                _merged(existing, content_type, content)
                if merge
                else _document(content_type, content)
            )
            if await store.replace_if_unchanged(
                session, principal.tenant_id, scope.hash, document_id, existing.etag, new
            ):
                return new
        # Another request changed the document between our read and write: a conditional
        # request has lost its precondition; an unconditional one reads and tries again.
        if preconditions.given:
            raise PreconditionFailed("the document changed while this request ran", "If-Match")
    raise Conflict("the document is being changed by others; try again", "id")


async def delete_document(
    session: AsyncSession,
    principal: Principal,
    scope: DocumentScope,
    document_id: str,
    preconditions: Preconditions,
) -> None:
    _require(principal, scope.kind, read=False)
    if not preconditions.given:
        await store.delete_one(session, principal.tenant_id, scope.hash, document_id)
        return
    existing = await store.get(
        session, principal.tenant_id, scope.hash, document_id, for_update=True
    )
    _check_preconditions(existing, preconditions)
    etag = existing.etag if existing is not None else None
    if etag is not None and not await store.delete_one(
        session, principal.tenant_id, scope.hash, document_id, etag
    ):
        raise PreconditionFailed("the document changed while this request ran", "If-Match")


async def delete_documents(
    session: AsyncSession, principal: Principal, scope: DocumentScope
) -> None:
    """xAPI-Communication 2.3.s5: DELETE without stateId clears the whole context."""
    _require(principal, scope.kind, read=False)
    await store.delete_scope(session, principal.tenant_id, scope.hash)


async def erase_agents(
    session: AsyncSession, tenant_ids: Sequence[int], agents: Sequence[str]
) -> int:
    """Erasure: every State and Agent Profile document of these agents (IFI keys)."""
    return await store.delete_of_agents(session, tenant_ids, agents)


async def delete_updated_before(session: AsyncSession, tenant_id: int, cutoff: datetime) -> int:
    """Retention: documents last changed before `cutoff`."""
    return await store.delete_updated_before(session, tenant_id, cutoff)
