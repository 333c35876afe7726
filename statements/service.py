"""The rules of the Statement resource: storing (PUT/POST) and retrieving (GET).

Services never commit: the route owns the request's one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import XAPI_SCOPES, Principal, Scope
from lrs.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from lrs.middleware import utc_timestamp
from lrs.versions import XAPIVersion
from statements import partitions, store
from statements.attachments import AttachmentPart, check_attachments, parse_statement_request
from statements.compare import statements_equivalent
from statements.formats import parse_accept_language, to_canonical, to_ids
from statements.indexing import (
    activity_index,
    agent_index,
    carried_activities,
    is_voiding,
    merge_definition,
)
from statements.models import Cursor, StatementQuery, encode_more
from statements.signature import verify_signed_statements
from statements.store import StatementRow, StoredStatement
from statements.validation import COMPONENT_LISTS, agent_ifi, parse_json, validate_statements

Statement = dict[str, Any]
# Statements deleted per round by retention, bounding the memory one round needs.
_RETENTION_BATCH = 5000
StatementHook = Callable[[AsyncSession, Principal, Sequence[Statement]], Awaitable[None]]
# An agent (IFI key) erased in these tenants; the key that replaces it (a pseudonym's), or
# None when the statements it was the actor of were deleted.
ErasureHook = Callable[[AsyncSession, Sequence[int], str, str | None], Awaitable[None]]
# Retention deleted a tenant's statements stored before this moment.
ExpiryHook = Callable[[AsyncSession, int, datetime], Awaitable[None]]
# Further Agent objects known to name the same person as an IFI key (a learner directory).
IdentityLookup = Callable[[AsyncSession, Principal, str], Awaitable[list[dict[str, Any]]]]


def _everyone(_principal: Principal) -> bool:
    return True


@dataclass(frozen=True)
class AfterStore:
    """An after-store hook, and whose writes it acts on (everyone's unless it says): a single
    statement no hook acts on may be written in one round trip, with no transaction around
    it for a hook to run in (`store.insert_alone`)."""

    run: StatementHook
    acts_for: Callable[[Principal], bool] = _everyone


@dataclass
class StatementHooks:
    """How later domains (cmi5 session rules, analytics learner models) plug into statement
    storage without `statements` importing them.

    - `checks` run after validation and before anything is written, with the statements as
      the client sent them (so a rule can require an id or a timestamp); raising an
      `XAPIError` rejects the whole request. Statements another domain records itself
      (`record_statements`) skip them.
    - `after_store` run in the same transaction, after the statements are written, with the
      statements that were new (re-sent identical statements are not passed again; a
      request with none new calls no hook), as stored (id, stored, authority, version set).
    - `feeds`: tables of a domain's own, with columns `tenant_id` and `statement_ids`, to
      which each write that stored new statements adds a row naming them (a JSON array of
      their ids, in the order they were stored), as part of the write itself: a durable
      queue of what was stored, at no round trip of its own.
    - `identities` name the other Agents of a person, for the Agents resource's Person.
    - `erasures` run when a learner is erased, so records made from their statements go
      (or follow the pseudonym) with them.
    - `expirations` run when retention has deleted a tenant's statements stored before a
      moment, so records made from them go too."""

    checks: list[StatementHook] = field(default_factory=list)
    after_store: list[AfterStore] = field(default_factory=list)
    feeds: list[Table] = field(default_factory=list)
    identities: list[IdentityLookup] = field(default_factory=list)
    erasures: list[ErasureHook] = field(default_factory=list)
    expirations: list[ExpiryHook] = field(default_factory=list)


def _dumps(value: Any) -> str:
    """Compact JSON text; orjson writes it about ten times faster than the json module."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer past 64 bits, which JSON allows
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Every digit as "0", every other byte as " ": an integer past 64 bits, which orjson would
# read as a float, shows as a run of 19 zeros or more. (Ten times faster than a regex.)
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def _loads(text: str) -> Any:
    """Stored JSON back: with orjson, several times faster, unless it may hold an integer
    that only the json module reads exactly."""
    if _LONG_NUMBER in text.encode().translate(_DIGITS_AS_ZEROS):
        return json.loads(text)
    return orjson.loads(text)


async def store_statements(
    session: AsyncSession,
    principal: Principal,
    version: XAPIVersion,
    hooks: StatementHooks,
    *,
    content_type: str | None,
    body: bytes,
    max_batch: int,
    max_attachment_bytes: int,
    statement_id: uuid.UUID | None = None,
) -> list[str]:
    """PUT (with `statement_id`) or POST of statements; returns their ids in request order.

    xAPI-Communication 2.1.1/2.1.2: an id already stored changes nothing; sent again with other
    content it is a 409 and the whole request is rejected (nothing of it is written)."""
    principal.require(Scope.STATEMENTS_WRITE)
    json_part, parts = parse_statement_request(content_type, body)
    for number, part in enumerate(parts, start=2):
        if len(part.data) > max_attachment_bytes:
            raise PayloadTooLarge(
                f"attachment part {number} holds {len(part.data)} bytes; an attachment may "
                f"hold at most {max_attachment_bytes}",
                f"part {number}",
            )
    payload = parse_json(json_part, "body")
    if statement_id is not None:
        payload = _with_put_id(payload, statement_id)
    if isinstance(payload, list) and len(payload) > max_batch:
        raise PayloadTooLarge(f"a batch holds at most {max_batch} statements", "body")
    received = validate_statements(payload, version)
    path = "statements" if isinstance(payload, list) else "statement"
    matched = check_attachments(
        received, parts, multipart=bool(parts) or _is_multipart(content_type)
    )
    verify_signed_statements(received, matched, path)

    for check in hooks.checks:
        await check(session, principal, received)
    return await _write(session, principal, version, hooks, received, matched, alone=True)


async def record_statements(
    session: AsyncSession,
    principal: Principal,
    version: XAPIVersion,
    hooks: StatementHooks,
    statements: Sequence[Statement],
) -> list[str]:
    """Statements a domain of this service writes itself (cmi5's LMS statements), in the
    request's transaction: validated and stored like a client's, then the after-store hooks;
    the checks, which police clients, do not run."""
    received = validate_statements(list(statements), version)
    return await _write(session, principal, version, hooks, received, {}, alone=False)


async def _write(
    session: AsyncSession,
    principal: Principal,
    version: XAPIVersion,
    hooks: StatementHooks,
    received: Sequence[Statement],
    matched: Mapping[str, AttachmentPart],
    *,
    alone: bool,
) -> list[str]:
    """`alone`: a single statement may be written by itself (`store.insert_alone`); not one a
    domain records among writes of its own, which need the same transaction."""
    stored_at = datetime.now(UTC)
    prepared = [prepare_for_storage(s, principal, version, stored_at) for s in received]
    rows = [storage_row(s, stored_at) for s in prepared]
    may_define = principal.has_any(Scope.DEFINE)
    if (
        alone
        and len(rows) == 1
        and not rows[0].is_voiding
        and not matched
        and not any(hook.acts_for(principal) for hook in hooks.after_store)
        and not _has_components(prepared[0])
    ):
        definitions = {key: _dumps(d) for key, d in _carried_definitions(prepared).items()}
        if await store.insert_alone(
            session, principal.tenant_id, principal.credential_id, rows[0], definitions,
            may_define, hooks.feeds,
        ):  # fmt: skip
            return [prepared[0]["id"]]
    inserted = await store.insert_statements(
        session,
        principal.tenant_id,
        principal.credential_id,
        rows,
        definitions_of=_defined_activity_ids(prepared) if may_define else (),
        feeds=hooks.feeds,
    )
    new_ids = inserted.new_ids
    await _check_resent(session, principal.tenant_id, prepared, rows, new_ids)
    new_statements = [
        s for s, row in zip(prepared, rows, strict=True) if row.statement_id in new_ids
    ]
    await _update_definitions(
        session, principal.tenant_id, new_statements, inserted.definitions, may_define
    )
    await store.insert_attachments(
        session,
        principal.tenant_id,
        ((part.sha2, part.content_type, part.data) for part in matched.values()),
    )
    if new_statements:  # a batch sent again stores nothing new: nothing to tell
        for hook in hooks.after_store:
            await hook.run(session, principal, new_statements)
    return [s["id"] for s in prepared]


async def stored_ids(
    session: AsyncSession, principal: Principal, batch: Sequence[Statement]
) -> set[str]:
    """The ids of `batch` already stored in the principal's tenant (as sent, for checks that
    leave a re-sent statement to the usual comparison: the same is a no-op, other content a
    409)."""
    wanted = {uuid.UUID(s["id"]): s["id"] for s in batch if "id" in s}
    found = await store.payloads(session, principal.tenant_id, wanted)
    return {wanted[row.statement_id] for row in found}


async def stored_statements(
    session: AsyncSession, tenant_id: int, statement_ids: Iterable[str]
) -> list[tuple[Statement, bool]]:
    """The statements of `statement_ids` that are stored, as stored, each with whether it is
    voided now: what a domain folding statements in after their write reads back (one
    erased since is missing)."""
    ids = [uuid.UUID(statement_id) for statement_id in statement_ids]
    rows = await store.payloads(session, tenant_id, ids)
    return [(_loads(row.payload), row.voided) for row in rows]


async def live_statements(
    session: AsyncSession, tenant_id: int, page: int = 1000
) -> AsyncIterator[list[Statement]]:
    """A tenant's statements that count (neither voided nor voiding), oldest stored first,
    in pages: what a domain rebuilds its own records from."""
    after: tuple[datetime, int] | None = None
    while rows := await store.live_page(session, tenant_id, after, page):
        yield [_loads(row.payload) for row in rows]
        after = rows[-1].stored, rows[-1].seq


def _is_multipart(content_type: str | None) -> bool:
    return (content_type or "").lower().startswith("multipart/")


def _with_put_id(payload: Any, statement_id: uuid.UUID) -> Any:
    """xAPI-Communication 2.1.1: PUT carries one statement; a body id must equal statementId."""
    if not isinstance(payload, dict):
        raise BadRequest("PUT takes a single statement object", "body")
    if "id" not in payload:
        return {"id": str(statement_id), **payload}
    try:
        same = uuid.UUID(str(payload["id"])) == statement_id
    except ValueError:
        same = True  # not a UUID at all: validation names that error
    if not same:
        raise BadRequest("the statement id differs from the statementId parameter", "statement.id")
    return payload


def prepare_for_storage(
    statement: Statement, principal: Principal, version: XAPIVersion, stored_at: datetime
) -> Statement:
    """The LRS-set properties (xAPI-Data 2.4): id, stored, timestamp, authority, version."""
    stored = utc_timestamp(stored_at)
    prepared = {"id": statement.get("id") or str(uuid.uuid4()), **statement}
    prepared["stored"] = stored
    if prepared.get("timestamp") is None:
        prepared["timestamp"] = stored
    prepared["authority"] = principal.authority
    prepared.setdefault("version", "1.0.0" if version is XAPIVersion.V1 else "2.0.0")
    return prepared


def storage_row(statement: Statement, stored_at: datetime) -> StatementRow:
    """The statement row and index rows a prepared statement is stored as (the benchmark's
    bulk loader writes the same)."""
    context = statement.get("context", {})
    target = statement["object"]
    return StatementRow(
        statement_id=uuid.UUID(statement["id"]),
        stored=stored_at,
        verb_id=statement["verb"]["id"],
        registration=uuid.UUID(context["registration"]) if "registration" in context else None,
        object_ref=uuid.UUID(target["id"]) if target.get("objectType") == "StatementRef" else None,
        is_voiding=is_voiding(statement),
        payload=_dumps(statement),
        agents=agent_index(statement),
        activities=activity_index(statement),
        attachments=frozenset(_attachment_hashes(statement)),
    )


async def _check_resent(
    session: AsyncSession,
    tenant_id: int,
    prepared: Sequence[Statement],
    rows: Sequence[StatementRow],
    new_ids: set[uuid.UUID],
) -> None:
    resent = {row.statement_id: s for s, row in zip(prepared, rows, strict=True)}
    for statement_id in new_ids:
        del resent[statement_id]
    existing = {
        row.statement_id: row.payload for row in await store.payloads(session, tenant_id, resent)
    }
    for statement_id, statement in resent.items():
        if statement_id not in existing:  # its id row outlived it (erased, or dropped by retention)
            raise Conflict(f"statement id {statement_id} is taken by a deleted statement", "id")
        if not statements_equivalent(_loads(existing[statement_id]), statement):
            raise Conflict(
                f"statement {statement_id} is already stored with different content",
                "id",
            )


def _defined_activity_ids(statements: Iterable[Statement]) -> set[str]:
    return {
        activity["id"]
        for statement in statements
        for activity in carried_activities(statement)
        if "definition" in activity
    }


def _carried_definitions(statements: Iterable[Statement]) -> dict[str, dict[str, Any]]:
    """By Activity id, what the statements define of it, merged in their order."""
    incoming: dict[str, dict[str, Any]] = {}
    for statement in statements:
        for activity in carried_activities(statement):
            if "definition" in activity:
                incoming[activity["id"]] = merge_definition(
                    incoming.get(activity["id"], {}), activity["definition"]
                )
    return incoming


def _has_components(statement: Statement) -> bool:
    """Whether a definition the statement carries lists interaction components."""
    return any(
        name in activity.get("definition", {})
        for activity in carried_activities(statement)
        for name in COMPONENT_LISTS
    )


async def _update_definitions(
    session: AsyncSession,
    tenant_id: int,
    new_statements: Sequence[Statement],
    known: Mapping[str, str],
    may_define: bool,
) -> None:
    """Canonical Activity definitions. Only a credential with `define` may change what is
    known (`known`: the stored definitions of the Activities the statements define); others
    only introduce Activities not seen before (xAPI-Communication 4.2 table 1)."""
    incoming = _carried_definitions(new_statements)
    if not incoming:
        return
    if may_define:
        for activity_id, text in known.items():
            if activity_id not in incoming:
                continue  # defined only by statements that were already stored
            if text == _dumps(incoming[activity_id]):
                del incoming[activity_id]  # sent as stored: the merge would keep it so
                continue
            stored = _loads(text)
            merged = merge_definition(stored, incoming[activity_id])
            if merged == stored:
                del incoming[activity_id]  # nothing new: most statements repeat a definition
            else:
                incoming[activity_id] = merged
        if not incoming:
            return
    await store.upsert_definitions(
        session,
        tenant_id,
        {activity_id: _dumps(d) for activity_id, d in incoming.items()},
        replace=may_define,
    )


@dataclass(frozen=True)
class StatementsAnswer:
    """A GET's answer before it becomes HTTP: the JSON body, attachment parts when asked for."""

    body: bytes
    parts: list[AttachmentPart]
    consistent_through: datetime
    last_modified: datetime | None


async def get_statements(
    session: AsyncSession,
    principal: Principal,
    query: StatementQuery,
    *,
    accept_language: str | None,
    max_limit: int,
    more_url: str,
    through: datetime,
) -> StatementsAnswer:
    """A query's answer. `through`: up to when the session sees every write; it bounds the
    pages of a `more` chain and is the answer's Consistent-Through."""
    principal.require(Scope.STATEMENTS_READ, Scope.STATEMENTS_READ_MINE, Scope.ALL_READ)
    mine_only = not principal.has_any(Scope.STATEMENTS_READ, Scope.ALL_READ)
    credential_id = principal.credential_id if mine_only else None
    if query.single:
        found = await _single(session, principal.readable, query, credential_id)
        rows, more = [found], None
    else:
        # Bounded by `through` from the first page on: on a lagging replica, rows newer than
        # it could otherwise fill page one and push older ones out of the whole chain.
        until = min(query.where.until or through, through)
        where = replace(query.where, credential_id=credential_id, until=until)
        limit = min(query.limit or max_limit, max_limit)
        rows = await store.query_statements(
            session,
            principal.readable,
            where,
            ascending=query.ascending,
            limit=limit + 1,
            after=query.after,
        )
        more = None
        if len(rows) > limit:
            rows = rows[:limit]
            # Later pages keep the first page's upper bound, so the result set stays stable.
            stable = replace(query, where=replace(query.where, until=until))
            more = f"{more_url}?more={encode_more(stable, Cursor(rows[-1].stored, rows[-1].seq))}"
    statements_json, hashes = await _render(
        session, principal.readable, query, rows, accept_language
    )
    if query.single:
        body = statements_json[0]
    else:
        body = (
            '{"statements":[' + ",".join(statements_json) + '],"more":' + _dumps(more or "") + "}"
        )
    parts = []
    if query.attachments:
        parts = [
            AttachmentPart(sha2=sha2, content_type=content_type, data=data)
            for sha2, content_type, data in await store.attachments_by_sha2(
                session, principal.readable, hashes
            )
        ]
    return StatementsAnswer(
        body=body.encode(),
        parts=parts,
        consistent_through=through,
        last_modified=rows[0].stored if query.single else None,
    )


async def _single(
    session: AsyncSession,
    tenant_ids: Sequence[int],
    query: StatementQuery,
    credential_id: int | None,
) -> StoredStatement:
    """xAPI-Communication 2.1.4: a voided statement is only found by voidedStatementId."""
    wanted = query.statement_id or query.voided_statement_id
    assert wanted is not None
    found = await store.get_statement(session, tenant_ids, wanted, credential_id)
    by_voided_id = query.voided_statement_id is not None
    if found is None or found[1] != by_voided_id:
        name = "voidedStatementId" if by_voided_id else "statementId"
        state = "voided " if by_voided_id else ""
        raise NotFound(f"no {state}statement with id {wanted}", name)
    return found[0]


async def _render(
    session: AsyncSession,
    tenant_ids: Sequence[int],
    query: StatementQuery,
    rows: Sequence[StoredStatement],
    accept_language: str | None,
) -> tuple[list[str], set[str]]:
    """The statements in the asked format, and the attachment hashes they reference."""
    if query.format == "exact" and not query.attachments:
        return [row.payload for row in rows], set()
    parsed = [_loads(row.payload) for row in rows]
    hashes = {sha2 for s in parsed for sha2 in _attachment_hashes(s)}
    if query.format == "ids":
        return [_dumps(to_ids(s)) for s in parsed], hashes
    if query.format == "canonical":
        definitions = await _definitions_for(session, tenant_ids, parsed)
        preferred = parse_accept_language(accept_language)
        return [_dumps(to_canonical(s, definitions, preferred)) for s in parsed], hashes
    return [row.payload for row in rows], hashes


def _attachment_hashes(statement: Mapping[str, Any]) -> Iterator[str]:
    """sha2 of every attachment in a statement and in its SubStatement, lower-cased as stored."""
    for attachment in statement.get("attachments", ()):
        yield attachment["sha2"].lower()
    inner = statement.get("object", {})
    if inner.get("objectType") == "SubStatement":
        yield from _attachment_hashes(inner)


async def _definitions_for(
    session: AsyncSession, tenant_ids: Sequence[int], parsed: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    ids = {activity["id"] for s in parsed for activity in carried_activities(s)}
    known = await store.definitions_by_id(session, tenant_ids, ids)
    return {activity_id: _loads(text) for activity_id, text in known.items()}


async def get_activity(
    session: AsyncSession, principal: Principal, activity_id: str
) -> dict[str, Any]:
    """xAPI-Communication 2.5: the Activity with the canonical definition assembled from the
    statements that carried it; an Activity never seen is still answered with its id."""
    principal.require(*XAPI_SCOPES)
    known = await store.definitions_by_id(session, principal.readable, [activity_id])
    activity: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if activity_id in known:
        activity["definition"] = _loads(known[activity_id])
    return activity


async def get_person(
    session: AsyncSession, principal: Principal, agent: Mapping[str, Any], hooks: StatementHooks
) -> dict[str, Any]:
    """xAPI-Communication 2.4: the Person object for an Agent, with every name and identifier
    the identity hooks link to it (the Agent asked about first) for readers of statements."""
    principal.require(*XAPI_SCOPES)
    agents = [agent]
    key = agent_ifi(agent)
    # Linked identities are personal data: only credentials that may read statements see them.
    if key is not None and principal.has_any(Scope.STATEMENTS_READ, Scope.ALL_READ):
        for lookup in hooks.identities:
            agents.extend(await lookup(session, principal, key))
    person: dict[str, Any] = {"objectType": "Person"}
    for name in ("name", "mbox", "mbox_sha1sum", "openid", "account"):
        values: list[Any] = []
        for known in agents:
            if name in known and known[name] not in values:
                values.append(known[name])
        if values:
            person[name] = values
    return person


@dataclass(frozen=True)
class Erased:
    deleted: int
    pseudonymised: int


async def erase_agent(
    session: AsyncSession,
    tenant_ids: Sequence[int],
    agent_key: str,
    pseudonym: Mapping[str, Any],
    hooks: StatementHooks,
    *,
    delete_as_actor: bool,
) -> Erased:
    """Erasure for one agent (IFI key) in these tenants. With `delete_as_actor`, statements
    whose actor is that agent are deleted; every other statement naming it (and all of them
    without `delete_as_actor`) keeps its place with the agent replaced by `pseudonym`, so
    counts and other learners' records stay intact. Attachments no statement needs any more
    are deleted too."""
    deleted: list[int] = []
    rewrites: list[tuple[int, int, StatementRow]] = []
    for found in await store.statements_mentioning(session, tenant_ids, agent_key):
        statement = _loads(found.payload)
        if delete_as_actor and agent_ifi(statement["actor"]) == agent_key:
            deleted.append(found.seq)
        else:
            rewritten = _replace_agent(statement, agent_key, pseudonym)
            rewrites.append((found.tenant_id, found.seq, storage_row(rewritten, found.stored)))
    await store.rewrite_statements(session, rewrites)
    await store.delete_statements(session, deleted)
    await store.delete_unreferenced_attachments(session, tenant_ids)
    for erased in hooks.erasures:
        await erased(
            session, tenant_ids, agent_key, None if delete_as_actor else agent_ifi(pseudonym)
        )
    return Erased(len(deleted), len(rewrites))


def _replace_agent(value: Any, agent_key: str, pseudonym: Mapping[str, Any]) -> Any:
    """`value` with every Agent object identified by `agent_key` replaced by `pseudonym`."""
    if isinstance(value, list):
        return [_replace_agent(item, agent_key, pseudonym) for item in value]
    if not isinstance(value, dict):
        return value
    if value.get("objectType", "Agent") == "Agent" and agent_ifi(value) == agent_key:
        return {"objectType": "Agent", **pseudonym} if "objectType" in value else dict(pseudonym)
    return {name: _replace_agent(item, agent_key, pseudonym) for name, item in value.items()}


async def drop_expired_months(
    session: AsyncSession, cutoffs: Mapping[int, datetime | None], now: datetime
) -> dict[int, int]:
    """Retention by the month, on PostgreSQL: drops every past month in which each statement
    is past its tenant's cutoff, one DROP instead of a delete per row. `cutoffs` names every
    tenant (None: kept for ever; a tenant not named is kept too). Returns the statements
    dropped per tenant; nothing happens on SQLite. The statement tables stay locked until
    the caller commits, which it should do at once."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return {}
    await partitions.lock_partitions(connection)  # another instance may drop the same month
    dropped: dict[int, int] = {}
    for start in await partitions.existing_months(connection):
        end = partitions.next_month(start)
        if end > now:
            break
        tenants = await partitions.tenants_in(connection, start)
        if all((cutoffs.get(tenant) or start) >= end for tenant in tenants):
            counts = await partitions.tenant_counts(connection, start)
            await partitions.drop_month(connection, start)
            for tenant, count in counts.items():
                dropped[tenant] = dropped.get(tenant, 0) + count
    if dropped:
        await store.delete_unreferenced_attachments(session, sorted(dropped))
        # Targets dropped with their month whose voiding statements are kept.
        await store.restore_pending(session)
    return dropped


async def delete_stored_before(
    session: AsyncSession, tenant_id: int, cutoff: datetime, hooks: StatementHooks
) -> int:
    """Retention: deletes the tenant's statements stored before `cutoff` (those in months
    `drop_expired_months` dropped are gone already), and the attachments no remaining
    statement needs; then the `expirations` hooks run."""
    deleted = 0
    while seqs := await store.seqs_stored_before(session, tenant_id, cutoff, _RETENTION_BATCH):
        await store.delete_statements(session, seqs)
        deleted += len(seqs)
    await store.delete_unreferenced_attachments(session, (tenant_id,))
    for expired in hooks.expirations:
        await expired(session, tenant_id, cutoff)
    return deleted
