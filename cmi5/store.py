"""All SQL of cmi5."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from cmi5.structure import Course
from cmi5.tables import cmi5_courses, cmi5_files, cmi5_progress, cmi5_registrations, cmi5_sessions
from lrs.db import dialect_insert


@dataclass(frozen=True)
class CourseRow:
    pk: int
    tenant_id: int
    course: Course
    version: int
    content_key: uuid.UUID
    created_at: datetime


@dataclass(frozen=True)
class RegistrationRow:
    id: uuid.UUID
    tenant_id: int
    course: CourseRow
    actor: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Progress:
    completed: bool = False
    passed: bool = False
    waived: bool = False
    satisfied: bool = False
    waive_reason: str | None = None


@dataclass(frozen=True)
class SessionRow:
    id: uuid.UUID
    registration_id: uuid.UUID
    au_id: str
    launch_mode: str
    move_on: str
    mastery_score: float | None
    context_template: dict[str, Any]
    fetch_hash: str
    credential_id: int | None
    launched_at: datetime
    last_statement_at: datetime | None
    expires_at: datetime
    preferences_read: bool
    state: str
    verbs: list[str]
    launch_url: str


def _course(row: Any, prefix: str = "") -> CourseRow:
    def value(name: str) -> Any:
        return getattr(row, prefix + name)

    return CourseRow(
        pk=value("id"),
        tenant_id=value("tenant_id"),
        course=Course.from_json(value("structure")),
        version=value("version"),
        content_key=value("content_key"),
        created_at=value("created_at"),
    )


async def insert_course(
    session: AsyncSession,
    tenant_id: int,
    course: Course,
    created_at: datetime,
    files: Mapping[str, tuple[str, bytes]],
) -> CourseRow:
    """The next version of the course id in the tenant, with its content files."""
    latest = await session.scalar(
        select(func.max(cmi5_courses.c.version)).where(
            cmi5_courses.c.tenant_id == tenant_id, cmi5_courses.c.course_id == course.id
        )
    )
    values = {
        "tenant_id": tenant_id,
        "course_id": course.id,
        "structure": course.to_json(),
        "created_at": created_at,
    }
    version = (latest or 0) + 1
    content_key = uuid.uuid4()
    pk = await session.scalar(
        cmi5_courses.insert()
        .values(values | {"version": version, "content_key": content_key})
        .returning(cmi5_courses.c.id)
    )
    assert pk is not None
    if files:
        await session.execute(
            cmi5_files.insert(),
            [
                {"course_pk": pk, "path": path, "content_type": kind, "data": data}
                for path, (kind, data) in files.items()
            ],
        )
    return CourseRow(pk, tenant_id, course, version, content_key, created_at)


async def courses(
    session: AsyncSession, tenant_id: int, course_id: str | None = None
) -> list[CourseRow]:
    """The tenant's courses, every version, newest first."""
    query = select(cmi5_courses).where(cmi5_courses.c.tenant_id == tenant_id)
    if course_id is not None:
        query = query.where(cmi5_courses.c.course_id == course_id)
    rows = await session.execute(
        query.order_by(cmi5_courses.c.course_id, cmi5_courses.c.version.desc())
    )
    return [_course(row) for row in rows]


async def course_by_pk(session: AsyncSession, pk: int) -> CourseRow | None:
    row = (await session.execute(select(cmi5_courses).where(cmi5_courses.c.id == pk))).first()
    return _course(row) if row else None


async def content_file(
    session: AsyncSession, content_key: uuid.UUID, path: str
) -> tuple[str, bytes] | None:
    row = (
        await session.execute(
            select(cmi5_files.c.content_type, cmi5_files.c.data)
            .join(cmi5_courses, cmi5_courses.c.id == cmi5_files.c.course_pk)
            .where(cmi5_courses.c.content_key == content_key, cmi5_files.c.path == path)
        )
    ).first()
    return (row.content_type, row.data) if row else None


async def insert_registration(
    session: AsyncSession,
    registration_id: uuid.UUID,
    course: CourseRow,
    actor: dict[str, Any],
    actor_ifi: str,
    created_at: datetime,
) -> RegistrationRow:
    await session.execute(
        cmi5_registrations.insert().values(
            id=registration_id,
            tenant_id=course.tenant_id,
            course_pk=course.pk,
            actor=actor,
            actor_ifi=actor_ifi,
            created_at=created_at,
        )
    )
    return RegistrationRow(registration_id, course.tenant_id, course, actor, created_at)


async def registration(
    session: AsyncSession, tenant_id: int, registration_id: uuid.UUID
) -> RegistrationRow | None:
    found = await registrations(session, tenant_id, registration_id=registration_id)
    return found[0] if found else None


async def registration_by_id(
    session: AsyncSession, registration_id: uuid.UUID
) -> RegistrationRow | None:
    """Whatever its tenant: for a session, which knows its registration."""
    found = await registrations(session, None, registration_id=registration_id)
    return found[0] if found else None


async def registrations(
    session: AsyncSession,
    tenant_id: int | None,
    *,
    registration_id: uuid.UUID | None = None,
    actor_ifi: str | None = None,
    course_id: str | None = None,
    limit: int = 1000,
) -> list[RegistrationRow]:
    query = (
        select(cmi5_registrations)
        .add_columns(*(c.label(f"c_{c.name}") for c in cmi5_courses.c))
        .join(cmi5_courses, cmi5_courses.c.id == cmi5_registrations.c.course_pk)
    )
    if tenant_id is not None:
        query = query.where(cmi5_registrations.c.tenant_id == tenant_id)
    if registration_id is not None:
        query = query.where(cmi5_registrations.c.id == registration_id)
    if actor_ifi is not None:
        query = query.where(cmi5_registrations.c.actor_ifi == actor_ifi)
    if course_id is not None:
        query = query.where(cmi5_courses.c.course_id == course_id)
    rows = await session.execute(query.order_by(cmi5_registrations.c.created_at).limit(limit))
    return [
        RegistrationRow(
            id=row.id,
            tenant_id=row.tenant_id,
            course=_course(row, "c_"),
            actor=row.actor,
            created_at=row.created_at,
        )
        for row in rows
    ]


async def progress(session: AsyncSession, registration_id: uuid.UUID) -> dict[str, Progress]:
    rows = await session.execute(
        select(cmi5_progress).where(cmi5_progress.c.registration_id == registration_id)
    )
    return {
        row.node_id: Progress(
            row.completed, row.passed, row.waived, row.satisfied, row.waive_reason
        )
        for row in rows
    }


LearnerKey = tuple[int, str]  # (tenant id, the learner's agent key)


@dataclass(frozen=True)
class LearnerChoice:
    """Which of a course's registered learners a report reads: one, a cohort (a subquery of
    agent keys), `limit` of them after `after` in key order."""

    learner: str | None = None
    cohort: Select[Any] | None = None
    after: LearnerKey | None = None
    limit: int | None = None


async def learners_progress(
    session: AsyncSession, tenant_ids: Sequence[int], course_id: str, chosen: LearnerChoice
) -> dict[LearnerKey, dict[str, Progress]]:
    """The learners registered in the course (any version) that `chosen` names, in key
    order, each with what their registrations have met: a node met in any of them is met."""
    r, c = cmi5_registrations.c, cmi5_courses.c
    keys = (
        select(r.tenant_id, r.actor_ifi)
        .join(cmi5_courses, c.id == r.course_pk)
        .where(r.tenant_id.in_(tenant_ids), c.course_id == course_id)
    )
    if chosen.learner is not None:
        keys = keys.where(r.actor_ifi == chosen.learner)
    if chosen.cohort is not None:
        keys = keys.where(r.actor_ifi.in_(chosen.cohort.scalar_subquery()))
    if chosen.after is not None:
        keys = keys.where(tuple_(r.tenant_id, r.actor_ifi) > tuple_(*chosen.after))
    keys = keys.distinct().order_by(r.tenant_id, r.actor_ifi).limit(chosen.limit)
    p = cmi5_progress.c
    rows = await session.execute(
        select(r.tenant_id, r.actor_ifi, p.node_id, p.completed, p.passed, p.waived, p.satisfied)
        .join(cmi5_courses, c.id == r.course_pk)
        .outerjoin(cmi5_progress, p.registration_id == r.id)
        .where(c.course_id == course_id, tuple_(r.tenant_id, r.actor_ifi).in_(keys))
        .order_by(r.tenant_id, r.actor_ifi)
    )
    found: dict[LearnerKey, dict[str, Progress]] = {}
    for tenant_id, actor_ifi, node_id, *flags in rows:
        met = found.setdefault((tenant_id, actor_ifi), {})
        if node_id is None:
            continue
        if node_id in met:  # another registration of the learner's
            flags = [a or b for a, b in zip(flags, astuple(met[node_id])[:4], strict=True)]
        met[node_id] = Progress(*flags)
    return found


async def save_progress(
    session: AsyncSession, registration_id: uuid.UUID, changed: Mapping[str, Progress]
) -> None:
    for node_id, values in changed.items():
        row = {
            "completed": values.completed,
            "passed": values.passed,
            "waived": values.waived,
            "satisfied": values.satisfied,
            "waive_reason": values.waive_reason,
        }
        insert = dialect_insert(session, cmi5_progress).values(
            registration_id=registration_id, node_id=node_id, **row
        )
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[cmi5_progress.c.registration_id, cmi5_progress.c.node_id],
                set_=row,
            )
        )


def _session(row: Any) -> SessionRow:
    return SessionRow(**{name: getattr(row, name) for name in SessionRow.__dataclass_fields__})


async def insert_session(session: AsyncSession, row: SessionRow) -> None:
    values = {name: getattr(row, name) for name in SessionRow.__dataclass_fields__}
    await session.execute(cmi5_sessions.insert().values(values))


async def session_by_id(
    session: AsyncSession, session_id: uuid.UUID, *, for_update: bool = False
) -> SessionRow | None:
    return await _one_session(session, cmi5_sessions.c.id == session_id, for_update)


async def session_by_credential(
    session: AsyncSession, credential_id: int, *, for_update: bool = False
) -> SessionRow | None:
    return await _one_session(session, cmi5_sessions.c.credential_id == credential_id, for_update)


async def _one_session(
    session: AsyncSession, where: ColumnElement[bool], for_update: bool
) -> SessionRow | None:
    query = select(cmi5_sessions).where(where)
    row = (await session.execute(query.with_for_update() if for_update else query)).first()
    return _session(row) if row else None


async def open_sessions(session: AsyncSession, registration_id: uuid.UUID) -> list[SessionRow]:
    """Sessions neither terminated nor abandoned, oldest first."""
    rows = await session.execute(
        select(cmi5_sessions)
        .where(
            cmi5_sessions.c.registration_id == registration_id,
            cmi5_sessions.c.state.in_(("launched", "initialized")),
        )
        .order_by(cmi5_sessions.c.launched_at)
        .with_for_update()
    )
    return [_session(row) for row in rows]


async def update_session(
    session: AsyncSession, session_id: uuid.UUID, values: Mapping[str, Any]
) -> None:
    await session.execute(
        update(cmi5_sessions).where(cmi5_sessions.c.id == session_id).values(dict(values))
    )


async def sessions_of(session: AsyncSession, registration_id: uuid.UUID) -> Sequence[SessionRow]:
    rows = await session.execute(
        select(cmi5_sessions)
        .where(cmi5_sessions.c.registration_id == registration_id)
        .order_by(cmi5_sessions.c.launched_at)
    )
    return [_session(row) for row in rows]


async def expired_sessions(session: AsyncSession, now: datetime) -> list[SessionRow]:
    """Open sessions past their end, locked: a timer in another process waits, then skips
    them."""
    rows = await session.execute(
        select(cmi5_sessions)
        .where(
            cmi5_sessions.c.state.in_(("launched", "initialized")),
            cmi5_sessions.c.expires_at <= now,
        )
        .order_by(cmi5_sessions.c.expires_at)
        .with_for_update()
    )
    return [_session(row) for row in rows]
