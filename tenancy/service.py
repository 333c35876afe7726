"""Tenant administration: the tenant tree, credentials, the learner directory, erasure and
retention, each action written to the audit log.

An `Actor` is whoever administers: an `admin` credential (its tenant's subtree) or the
command line (every tenant). Tenants outside an actor's subtree are answered as absent."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from auth import service as auth_service
from auth import store as auth_store
from auth.models import Principal, Role, Scope
from auth.store import CredentialRow, TenantRow
from documents import service as documents_service
from lrs.errors import BadRequest, NotFound
from lrs.params import Timestamp
from statements import service as statements_service
from statements.service import StatementHooks
from statements.validation import agent_ifi, validate_agent
from tenancy import store
from tenancy.store import Person

Audience = Literal["employee", "customer", "partner"]


@dataclass(frozen=True)
class Actor:
    name: str  # credential key, or "cli:<user>"
    source: str  # client address, or "cli"
    tenant: TenantRow | None  # its own tenant; None (the command line): every tenant
    # A credential that does not roll up administers its own tenant only.
    own_tenant_only: bool = False

    @property
    def root_path(self) -> str:
        return self.tenant.path if self.tenant else "/"

    def administers(self, tenant: TenantRow) -> bool:
        if self.own_tenant_only:
            return tenant.path == self.root_path
        return tenant.path.startswith(self.root_path)


def as_utc(moment: datetime, field: str) -> datetime:
    """A time with its offset, within the years the database stores once in UTC."""
    if moment.tzinfo is None:
        raise BadRequest(f"{field} needs a time zone offset", field)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise BadRequest(f"{field} is out of range", field) from None


async def actor_for(session: AsyncSession, principal: Principal, source: str) -> Actor:
    tenant = await auth_store.tenant_by_id(session, principal.tenant_id)
    assert tenant is not None
    return Actor(principal.key, source, tenant, own_tenant_only=not principal.rollup)


async def _administered_tenants(session: AsyncSession, actor: Actor) -> list[TenantRow]:
    return [t for t in await auth_store.subtree(session, actor.root_path) if actor.administers(t)]


async def _audit(
    session: AsyncSession,
    actor: Actor,
    tenant: TenantRow,
    action: str,
    target: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    await store.insert_audit(
        session,
        {
            "at": datetime.now(UTC),
            "tenant_id": tenant.id,
            "actor": actor.name,
            "action": action,
            "target": target,
            "detail": dict(detail or {}),
            "source": actor.source,
        },
    )


async def administered(session: AsyncSession, actor: Actor, name: str) -> TenantRow:
    tenant = await auth_store.tenant_by_name(session, name)
    if tenant is None or not actor.administers(tenant):
        raise NotFound(f"no tenant named {name!r} here", "tenant")
    return tenant


# Tenants


def tenant_json(tenant: TenantRow, names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "parent": names.get(tenant.parent_id) if tenant.parent_id else None,
        "retention_days": tenant.retention_days,
        "created_at": tenant.created_at.isoformat(),
    }


async def create_tenant(
    session: AsyncSession,
    actor: Actor,
    name: str,
    parent_name: str | None,
    retention_days: int | None,
) -> TenantRow:
    """A tenant below `parent_name` (default: the actor's own tenant; a root tenant when the
    command line names no parent)."""
    parent = await administered(session, actor, parent_name) if parent_name else actor.tenant
    tenant = await auth_service.create_tenant(session, name, parent, retention_days)
    await _audit(
        session,
        actor,
        tenant,
        "tenant.create",
        name,
        {"parent": parent and parent.name, "retention_days": retention_days},
    )
    return tenant


async def list_tenants(session: AsyncSession, actor: Actor) -> list[TenantRow]:
    return await _administered_tenants(session, actor)


async def set_retention(
    session: AsyncSession, actor: Actor, name: str, retention_days: int | None
) -> TenantRow:
    tenant = await administered(session, actor, name)
    auth_service.check_retention_days(retention_days)
    await auth_store.update_tenant(session, tenant.id, {"retention_days": retention_days})
    await _audit(
        session, actor, tenant, "tenant.retention", name, {"retention_days": retention_days}
    )
    updated = await auth_store.tenant_by_id(session, tenant.id)
    assert updated is not None
    return updated


# Credentials


def credential_json(row: CredentialRow, tenant_name: str) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "key": row.key,
        "name": row.name,
        "tenant": tenant_name,
        "role": row.role,
        "scopes": row.scopes,
        "rollup": row.rollup,
        "created_at": row.created_at.isoformat(),
        "expires_at": moment(row.expires_at),
        "revoked_at": moment(row.revoked_at),
        "last_used_at": moment(row.last_used_at),
    }


class CredentialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str
    role: Role | None = None
    scopes: list[Scope] = []
    rollup: StrictBool | None = None
    key: str | None = Field(default=None, min_length=1, max_length=200)
    secret: str | None = Field(default=None, min_length=8, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    expires_at: Timestamp | None = None


async def create_credential(
    session: AsyncSession, actor: Actor, request: CredentialRequest
) -> auth_service.NewCredential:
    tenant = await administered(session, actor, request.tenant)
    if request.expires_at is not None:
        as_utc(request.expires_at, "expires_at")
    made = await auth_service.create_credential(
        session,
        tenant=tenant,
        key=request.key,
        secret=request.secret,
        role=request.role,
        scopes=request.scopes,
        rollup=request.rollup,
        name=request.name,
        expires_at=request.expires_at,
    )
    await _audit(
        session,
        actor,
        tenant,
        "credential.create",
        made.row.key,
        {"role": made.row.role, "scopes": made.row.scopes, "rollup": made.row.rollup},
    )
    return made


async def list_credentials(session: AsyncSession, actor: Actor) -> list[tuple[CredentialRow, str]]:
    tenants = await _administered_tenants(session, actor)
    names = {tenant.id: tenant.name for tenant in tenants}
    rows = await auth_store.credentials_of(session, list(names))
    return [(row, names[row.tenant_id]) for row in rows]


async def administered_credential(
    session: AsyncSession, actor: Actor, key: str
) -> tuple[CredentialRow, TenantRow]:
    row = await auth_store.credential_by_key(session, key)
    tenant = await auth_store.tenant_by_id(session, row.tenant_id) if row else None
    if row is None or tenant is None or not actor.administers(tenant):
        raise NotFound(f"no credential with key {key!r} here", "key")
    return row, tenant


async def revoke_credential(
    session: AsyncSession, actor: Actor, key: str
) -> tuple[CredentialRow, TenantRow]:
    row, tenant = await administered_credential(session, actor, key)
    row = await auth_service.revoke_credential(session, row)
    await _audit(session, actor, tenant, "credential.revoke", key)
    return row, tenant


# The learner directory


class PersonEntry(BaseModel):
    """A directory entry as imported or PUT: the tenant's id for the person, who they are
    and the Agents (any IFI) that name them in statements."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=500)
    org_unit: str | None = Field(default=None, max_length=200)
    job_role: str | None = Field(default=None, max_length=200)
    audience: Audience = "employee"
    agents: list[dict[str, Any]] = Field(min_length=1)


def person_json(person: Person, tenant_name: str) -> dict[str, Any]:
    return {
        "external_id": person.external_id,
        "tenant": tenant_name,
        "name": person.name,
        "org_unit": person.org_unit,
        "job_role": person.job_role,
        "audience": person.audience,
        "agents": person.agents,
        "updated": person.updated.isoformat(),
    }


def _entry(value: Any, path: str) -> PersonEntry:
    try:
        entry = PersonEntry.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in (path, *first["loc"]))
        raise BadRequest(f"{first['msg']}", field) from None
    for position, agent in enumerate(entry.agents):
        validate_agent(agent, f"{path}.agents[{position}]")
    return entry


async def _put(session: AsyncSession, tenant: TenantRow, entry: PersonEntry) -> None:
    values = entry.model_dump(exclude={"agents"})
    person_id = await store.upsert_person(
        session, tenant.id, {**values, "updated": datetime.now(UTC)}
    )
    agents = {}
    for agent in entry.agents:
        key = agent_ifi(agent)
        assert key is not None  # validated: exactly one IFI
        agents[key] = agent
    await store.set_person_agents(session, tenant.id, person_id, agents)


async def put_person(session: AsyncSession, actor: Actor, tenant_name: str, value: Any) -> Person:
    tenant = await administered(session, actor, tenant_name)
    entry = _entry(value, "body")
    await _put(session, tenant, entry)
    await _audit(session, actor, tenant, "directory.put", entry.external_id)
    (person,) = await store.people_where(session, [tenant.id], external_id=entry.external_id)
    return person


_CSV_AGENT_COLUMNS = ("mbox", "mbox_sha1sum", "openid", "account_homepage", "account_name")


def parse_directory(content_type: str | None, body: bytes) -> list[tuple[str, Any]]:
    """Entries of a directory file, each with where it came from (for errors): a JSON array
    of entries, or CSV with a header row naming external_id, name, org_unit, job_role,
    audience and any of the identifier columns mbox, mbox_sha1sum, openid,
    account_homepage + account_name."""
    media = (content_type or "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("a directory file is UTF-8 text", "body") from None
    if media == "application/json":
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as error:
            raise BadRequest(f"not JSON: {error.msg} at line {error.lineno}", "body") from None
        if not isinstance(entries, list):
            raise BadRequest("a JSON directory is an array of entries", "body")
        return [(f"body[{position}]", entry) for position, entry in enumerate(entries)]
    if media in ("text/csv", "application/csv"):
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            missing = {"external_id"} - set(reader.fieldnames or ())
            if missing:
                raise BadRequest("the CSV header needs an external_id column", "body")
            return [(f"line {reader.line_num}", _csv_entry(row)) for row in reader]
        except csv.Error as error:
            raise BadRequest(
                f"not CSV (RFC 4180) at line {reader.line_num}: {error}", "body"
            ) from None
    raise BadRequest("send the directory as application/json or text/csv", "Content-Type")


def _csv_entry(row: Mapping[str, str | None]) -> dict[str, Any]:
    def cell(name: str) -> str | None:
        value = (row.get(name) or "").strip()
        return value or None

    agents: list[dict[str, Any]] = []
    for name in ("mbox", "mbox_sha1sum", "openid"):
        value = cell(name)
        if value:
            agents.append({name: value})
    if cell("account_homepage") or cell("account_name"):
        agents.append(
            {"account": {"homePage": cell("account_homepage"), "name": cell("account_name")}}
        )
    entry: dict[str, Any] = {"external_id": cell("external_id"), "agents": agents}
    for name in ("name", "org_unit", "job_role", "audience"):
        if cell(name) is not None:
            entry[name] = cell(name)
    return entry


async def import_people(
    session: AsyncSession, actor: Actor, tenant_name: str, entries: Sequence[tuple[str, Any]]
) -> int:
    """All entries or none: one bad entry rejects the import."""
    tenant = await administered(session, actor, tenant_name)
    checked = [_entry(value, path) for path, value in entries]
    for entry in checked:
        await _put(session, tenant, entry)
    await _audit(session, actor, tenant, "directory.import", tenant.name, {"people": len(checked)})
    return len(checked)


async def list_people(
    session: AsyncSession,
    actor: Actor,
    tenant_name: str,
    *,
    org_unit: str | None,
    audience: str | None,
) -> list[Person]:
    tenant = await administered(session, actor, tenant_name)
    return await store.people_where(session, [tenant.id], org_unit=org_unit, audience=audience)


async def delete_person(
    session: AsyncSession, actor: Actor, tenant_name: str, external_id: str
) -> None:
    tenant = await administered(session, actor, tenant_name)
    found = await store.people_where(session, [tenant.id], external_id=external_id)
    if not found:
        raise NotFound(
            f"no person with external_id {external_id!r} in {tenant_name}", "external_id"
        )
    await store.delete_people(session, [found[0].id])
    await _audit(session, actor, tenant, "directory.delete", external_id)


async def known_identities(
    session: AsyncSession, principal: Principal, agent_key: str
) -> list[dict[str, Any]]:
    """The statement hook behind the Agents resource: every Agent and name the directory of
    the reader's tenants links to the person this IFI names."""
    agents: list[dict[str, Any]] = []
    for person in await store.people_where(session, principal.readable, agent=agent_key):
        if person.name:
            agents.append({"name": person.name})
        agents.extend(person.agents)
    return agents


# Erasure and retention


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: dict[str, Any]
    # Erasure covers this tenant and every tenant below it (default: the actor's own).
    tenant: str | None = None
    mode: Literal["delete", "pseudonymise"] = "delete"


def pseudonym_for(agent_key: str, secret: str, public_url: str) -> dict[str, Any]:
    """A stable account that cannot be traced back without the server's secret: the same
    learner erased twice gets the same pseudonym, so counts over time stay right."""
    digest = hmac.new(secret.encode(), agent_key.encode(), hashlib.sha256).hexdigest()[:32]
    return {"account": {"homePage": f"{public_url.rstrip('/')}/pseudonym", "name": digest}}


async def erase(
    session: AsyncSession,
    actor: Actor,
    request: ErasureRequest,
    pseudonym_secret: str,
    public_url: str,
    hooks: StatementHooks,
) -> dict[str, int]:
    """Everything stored of one learner, in one transaction: statements where they are the
    actor are deleted (mode `delete`) or kept with a pseudonym (mode `pseudonymise`); every
    other statement naming them is pseudonymised; their State and Agent Profile documents and
    directory entries are deleted. Every identifier the directory links to the learner is
    erased with the one given, and an mbox also by its mbox_sha1sum."""
    agent = validate_agent(request.agent, "agent")
    if request.tenant:
        tenant = await administered(session, actor, request.tenant)
    elif actor.tenant is not None:
        tenant = actor.tenant
    else:
        raise BadRequest("name the tenant to erase in", "tenant")
    tenant_ids = [t.id for t in await auth_store.subtree(session, tenant.path)]
    key = agent_ifi(agent)
    assert key is not None
    keys = {key}
    if "mbox" in agent:
        keys.add(f"mbox_sha1sum:{hashlib.sha1(agent['mbox'].encode()).hexdigest()}")  # noqa: S324 - xAPI's own hash
    people: dict[int, Person] = {}
    for given in sorted(keys):
        for person in await store.people_where(session, tenant_ids, agent=given):
            people[person.id] = person
    for person in people.values():
        keys.update(filter(None, (agent_ifi(known) for known in person.agents)))
    counts = {"statements_deleted": 0, "statements_pseudonymised": 0}
    for erased_key in sorted(keys):
        erased = await statements_service.erase_agent(
            session,
            tenant_ids,
            erased_key,
            pseudonym_for(erased_key, pseudonym_secret, public_url),
            hooks,
            delete_as_actor=request.mode == "delete",
        )
        counts["statements_deleted"] += erased.deleted
        counts["statements_pseudonymised"] += erased.pseudonymised
    counts["documents_deleted"] = await documents_service.erase_agents(
        session, tenant_ids, sorted(keys)
    )
    await store.delete_people(session, list(people))
    counts["people_deleted"] = len(people)
    # The audit entry names the learner only by a digest: the log must not keep what the
    # erasure removed.
    target = hashlib.sha256(key.encode()).hexdigest()
    await _audit(session, actor, tenant, "learner.erase", target, {"mode": request.mode, **counts})
    return counts


async def _cutoffs(
    session: AsyncSession, actor: Actor, now: datetime
) -> tuple[list[TenantRow], dict[int, int], dict[int, datetime | None]]:
    """The administered tenants, their retention in days, and their cutoffs (None: kept)."""
    policies = await auth_service.effective_retention(session)
    tenants = await _administered_tenants(session, actor)
    cutoffs: dict[int, datetime | None] = {}
    for tenant in tenants:
        days = policies.get(tenant.id)
        cutoffs[tenant.id] = None if days is None else now - timedelta(days=days)
    return tenants, policies, cutoffs


async def drop_expired_months(
    session: AsyncSession, actor: Actor, now: datetime | None = None
) -> dict[int, int]:
    """Retention's first step on PostgreSQL: every past month whose statements are all past
    their tenant's retention is dropped whole. Only for an actor holding every tenant (the
    server's timer, the command line), since a month holds the statements of all tenants.
    It locks the statement tables: the caller commits before `apply_retention`. Returns the
    statements dropped per tenant id."""
    if actor.tenant is not None:
        return {}
    now = now or datetime.now(UTC)
    _, _, cutoffs = await _cutoffs(session, actor, now)
    return await statements_service.drop_expired_months(session, cutoffs, now)


async def apply_retention(
    session: AsyncSession,
    actor: Actor,
    hooks: StatementHooks,
    now: datetime | None = None,
    dropped: Mapping[int, int] | None = None,
) -> dict[str, dict[str, int]]:
    """Deletes, in every administered tenant with a retention policy (its own or inherited),
    the statements stored and documents last changed more than that many days ago; the
    counts include the statements `dropped` by `drop_expired_months` before."""
    now = now or datetime.now(UTC)
    dropped = dropped or {}
    tenants, policies, cutoffs = await _cutoffs(session, actor, now)
    results: dict[str, dict[str, int]] = {}
    for tenant in tenants:
        cutoff = cutoffs[tenant.id]
        if cutoff is None:
            continue
        deleted = await statements_service.delete_stored_before(session, tenant.id, cutoff, hooks)
        counts = {
            "statements": dropped.get(tenant.id, 0) + deleted,
            "documents": await documents_service.delete_updated_before(session, tenant.id, cutoff),
        }
        results[tenant.name] = counts
        if any(counts.values()):
            detail = {"days": policies[tenant.id], **counts}
            await _audit(session, actor, tenant, "retention.apply", tenant.name, detail)
    return results


async def audit(
    session: AsyncSession,
    actor: Actor,
    *,
    since: datetime | None,
    action: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Audit entries of the tenants the actor administers, newest first."""
    if since is not None:
        since = as_utc(since, "since")
    tenants = await _administered_tenants(session, actor)
    names = {tenant.id: tenant.name for tenant in tenants}
    entries = await store.audit_entries(
        session, list(names), since=since, action=action, limit=limit
    )
    return [
        {
            "at": entry["at"].isoformat(),
            "tenant": names.get(entry["tenant_id"]),
            "actor": entry["actor"],
            "action": entry["action"],
            "target": entry["target"],
            "detail": entry["detail"],
            "source": entry["source"],
        }
        for entry in entries
    ]
