"""All SQL of the learner directory and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lrs.db import dialect_insert
from tenancy.tables import audit_log, people, person_agents


@dataclass(frozen=True)
class Person:
    id: int
    tenant_id: int
    external_id: str
    name: str | None
    org_unit: str | None
    job_role: str | None
    audience: str
    updated: datetime
    agents: list[dict[str, Any]]


async def upsert_person(session: AsyncSession, tenant_id: int, values: dict[str, Any]) -> int:
    insert = dialect_insert(session, people).values(tenant_id=tenant_id, **values)
    insert = insert.on_conflict_do_update(
        index_elements=["tenant_id", "external_id"],
        set_={name: insert.excluded[name] for name in values if name != "external_id"},
    ).returning(people.c.id)
    return int((await session.execute(insert)).scalar_one())


async def set_person_agents(
    session: AsyncSession, tenant_id: int, person_id: int, agents: dict[str, dict[str, Any]]
) -> None:
    """The person's identifiers become exactly `agents` (IFI key -> Agent); an identifier
    that named another person of the tenant now names this one."""
    await session.execute(delete(person_agents).where(person_agents.c.person_id == person_id))
    if not agents:
        return
    await session.execute(
        delete(person_agents).where(
            person_agents.c.tenant_id == tenant_id, person_agents.c.agent.in_(list(agents))
        )
    )
    await session.execute(
        person_agents.insert().values(
            [
                {"tenant_id": tenant_id, "agent": key, "person_id": person_id, "agent_json": agent}
                for key, agent in agents.items()
            ]
        )
    )


async def people_where(
    session: AsyncSession,
    tenant_ids: Sequence[int],
    *,
    external_id: str | None = None,
    agent: str | None = None,
    org_unit: str | None = None,
    audience: str | None = None,
) -> list[Person]:
    query = select(people).where(people.c.tenant_id.in_(tenant_ids))
    if external_id is not None:
        query = query.where(people.c.external_id == external_id)
    if org_unit is not None:
        query = query.where(people.c.org_unit == org_unit)
    if audience is not None:
        query = query.where(people.c.audience == audience)
    if agent is not None:
        query = query.where(
            people.c.id.in_(select(person_agents.c.person_id).where(person_agents.c.agent == agent))
        )
    rows = (await session.execute(query.order_by(people.c.tenant_id, people.c.external_id))).all()
    agents: dict[int, list[dict[str, Any]]] = {row.id: [] for row in rows}
    if agents:
        links = await session.execute(
            select(person_agents.c.person_id, person_agents.c.agent_json)
            .where(person_agents.c.person_id.in_(list(agents)))
            .order_by(person_agents.c.agent)
        )
        for person_id, agent_json in links.all():
            agents[person_id].append(agent_json)
    return [
        Person(
            id=row.id,
            tenant_id=row.tenant_id,
            external_id=row.external_id,
            name=row.name,
            org_unit=row.org_unit,
            job_role=row.job_role,
            audience=row.audience,
            updated=row.updated,
            agents=agents[row.id],
        )
        for row in rows
    ]


def cohort_agents(
    tenant_ids: Sequence[int],
    org_unit: str | None = None,
    job_role: str | None = None,
    audience: str | None = None,
) -> Select[Any]:
    """The agent keys (agent_ifi) of the people in a cohort, as a subquery for another
    domain's query: the directory's tables stay this package's."""
    chosen = select(people.c.id).where(people.c.tenant_id.in_(tenant_ids))
    for column, value in (
        (people.c.org_unit, org_unit),
        (people.c.job_role, job_role),
        (people.c.audience, audience),
    ):
        if value is not None:
            chosen = chosen.where(column == value)
    return select(person_agents.c.agent).where(person_agents.c.person_id.in_(chosen))


async def delete_people(session: AsyncSession, person_ids: Sequence[int]) -> None:
    if person_ids:
        await session.execute(
            delete(person_agents).where(person_agents.c.person_id.in_(person_ids))
        )
        await session.execute(delete(people).where(people.c.id.in_(person_ids)))


async def insert_audit(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(audit_log.insert().values(values))


async def audit_entries(
    session: AsyncSession,
    tenant_ids: Sequence[int],
    *,
    since: datetime | None,
    action: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = select(audit_log).where(audit_log.c.tenant_id.in_(tenant_ids))
    if since is not None:
        query = query.where(audit_log.c.at > since)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    query = query.order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    return [dict(row._mapping) for row in (await session.execute(query)).all()]
