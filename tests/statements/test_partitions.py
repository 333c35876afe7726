"""Statement ids stay unique across months, and retention drops whole months where it can.

On PostgreSQL the statement tables are partitioned by month of `stored`; on SQLite the same
calls give the same visible results with plain deletes."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from auth import service as auth_service
from lrs.db import create_sessionmaker
from statements import partitions
from statements.service import StatementHooks
from statements.store import StatementRow, get_statement, insert_statements, payloads
from statements.tables import statement_ids, statements
from tenancy.service import Actor, apply_retention, drop_expired_months

EVERY_TENANT = Actor(name="test", source="test", tenant=None)


def row(stored: datetime, statement_id: uuid.UUID | None = None) -> StatementRow:
    return StatementRow(
        statement_id=statement_id or uuid.uuid4(),
        stored=stored,
        verb_id="http://example.com/verbs/did",
        registration=None,
        object_ref=None,
        is_voiding=False,
        payload="{}",
        agents={"mbox:mailto:a@example.com": True},
        activities={"http://example.com/activity": True},
    )


async def store_at(session: AsyncSession, tenant_id: int, *rows: StatementRow) -> set[uuid.UUID]:
    connection = await session.connection()
    stored = [r.stored for r in rows]
    await partitions.ensure_months(connection, min(stored), max(stored))
    return (await insert_statements(session, tenant_id, 1, rows)).new_ids


async def tenant(session: AsyncSession, retention_days: int | None) -> int:
    made = await auth_service.create_tenant(
        session, f"t-{uuid.uuid4().hex[:8]}", retention_days=retention_days
    )
    return made.id


async def months(session: AsyncSession) -> list[datetime]:
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return []
    return await partitions.existing_months(connection)


async def test_a_statement_id_is_unique_across_months(app: FastAPI) -> None:
    """Communication 2.1.2.s2.b5: an id already stored is not stored again, even when the
    copy would land in another month's partition."""
    now = datetime.now(UTC)
    statement_id = uuid.uuid4()
    async with create_sessionmaker(app.state.engine)() as session:
        tenant_id = await tenant(session, None)
        first = await store_at(session, tenant_id, row(now - timedelta(days=95), statement_id))
        again = await store_at(session, tenant_id, row(now, statement_id))
        other_tenant = await store_at(session, await tenant(session, None), row(now, statement_id))
        await session.rollback()
    assert first == {statement_id}
    assert again == set()
    assert other_tenant == {statement_id}  # ids are unique per tenant


async def test_a_target_stored_after_its_voiding_statement_keeps_its_own_month(
    app: FastAPI,
) -> None:
    """Data 2.3.2.s2.b3: a target that arrives after its voiding statement is stored voided.
    Its id row takes the target's own stored time, even when the voiding statement's is
    later (another instance's clock ahead, here by 40 days), so that lookups by id, which
    join on it to read the target's month, find the target."""
    now = datetime.now(UTC)
    target = row(now - timedelta(days=40))
    voiding = replace(
        row(now),
        verb_id="http://adlnet.gov/expapi/verbs/voided",
        object_ref=target.statement_id,
        is_voiding=True,
    )
    async with create_sessionmaker(app.state.engine)() as session:
        tenant_id = await tenant(session, None)
        await store_at(session, tenant_id, voiding)
        await store_at(session, tenant_id, target)
        id_stored = await session.scalar(
            select(statement_ids.c.stored).where(
                statement_ids.c.tenant_id == tenant_id,
                statement_ids.c.statement_id == target.statement_id,
            )
        )
        found = await payloads(session, tenant_id, [target.statement_id])
        by_id = await get_statement(session, [tenant_id], target.statement_id, None)
        await session.rollback()
    assert id_stored == target.stored
    assert [(p.statement_id, p.voided) for p in found] == [(target.statement_id, True)]
    assert by_id is not None
    assert by_id[0].stored == target.stored
    assert by_id[1] is True  # voided


async def test_retention_drops_a_month_whose_statements_all_expired(app: FastAPI) -> None:
    """A past month in which every statement is past its tenant's retention goes at once
    (PostgreSQL: its partitions are dropped), with its ids; newer statements stay."""
    now = datetime.now(UTC)
    old = partitions.month_start(now - timedelta(days=120)) + timedelta(days=3)
    async with create_sessionmaker(app.state.engine)() as session:
        first, second = await tenant(session, 30), await tenant(session, 60)
        old_rows = [row(old), row(old + timedelta(hours=1))]
        await store_at(session, first, *old_rows)
        await store_at(session, second, row(old))
        recent = row(now)
        await store_at(session, first, recent)
        await session.commit()
        had = await months(session)
        dropped = await drop_expired_months(session, EVERY_TENANT, now)
        await session.commit()
        results = await apply_retention(session, EVERY_TENANT, StatementHooks(), now, dropped)
        await session.commit()
        left = set(
            await session.scalars(
                select(statements.c.statement_id).where(statements.c.tenant_id.in_([first, second]))
            )
        )
        ids_left = set(
            await session.scalars(
                select(statement_ids.c.statement_id).where(
                    statement_ids.c.tenant_id.in_([first, second])
                )
            )
        )
        after = await months(session)
    counts = {counts["statements"] for counts in results.values()}
    assert left == ids_left == {recent.statement_id}
    assert {2, 1} <= counts
    if had:  # PostgreSQL: the month went whole, counted per tenant
        assert dropped == {first: 2, second: 1}
        assert partitions.month_start(old) in had
        assert partitions.month_start(old) not in after
        assert partitions.month_start(now) in after


async def test_a_tenant_keeping_statements_keeps_the_month(app: FastAPI) -> None:
    """A month also holding statements of a tenant that keeps them is not dropped; the
    expired statements in it are deleted one by one instead."""
    now = datetime.now(UTC)
    old = partitions.month_start(now - timedelta(days=240)) + timedelta(days=5)
    async with create_sessionmaker(app.state.engine)() as session:
        expiring, keeping = await tenant(session, 30), await tenant(session, None)
        gone, kept = row(old), row(old)
        await store_at(session, expiring, gone)
        await store_at(session, keeping, kept)
        await session.commit()
        dropped = await drop_expired_months(session, EVERY_TENANT, now)
        await session.commit()
        await apply_retention(session, EVERY_TENANT, StatementHooks(), now, dropped)
        await session.commit()
        left = set(
            await session.scalars(
                select(statements.c.statement_id).where(
                    statements.c.tenant_id.in_([expiring, keeping])
                )
            )
        )
        after = await months(session)
        if after:  # PostgreSQL: the row is in its month's partition, not the default one
            home = await session.scalar(
                text("SELECT tableoid::regclass::text FROM statements WHERE statement_id = :id"),
                {"id": kept.statement_id},
            )
            assert home == partitions.partition_name("statements", partitions.month_start(old))
    assert left == {kept.statement_id}
    if after:
        assert partitions.month_start(old) in after


async def test_a_month_already_in_the_default_partition_is_left_there(app: FastAPI) -> None:
    """Rows of a month that had no partition land in the default one; making that month
    later is refused by PostgreSQL, so it is skipped and the rows stay readable."""
    far = datetime.now(UTC) + timedelta(days=400)
    async with create_sessionmaker(app.state.engine)() as session:
        tenant_id = await tenant(session, None)
        future = row(far)
        assert await insert_statements(session, tenant_id, 1, [future])
        connection = await session.connection()
        await partitions.ensure_months(connection, far, far)
        found = await session.scalar(
            select(statements.c.statement_id).where(statements.c.tenant_id == tenant_id)
        )
        have = await months(session)
        await session.rollback()
    assert found == future.statement_id
    assert partitions.month_start(far) not in have


async def test_migration_makes_this_month_and_the_next_ones(app: FastAPI) -> None:
    async with create_sessionmaker(app.state.engine)() as session:
        have = await months(session)
    if not have:
        return  # SQLite: nothing to make
    start = partitions.month_start(datetime.now(UTC))
    for _ in range(partitions.MONTHS_AHEAD + 1):
        assert start in have
        start = partitions.next_month(start)


def test_month_arithmetic_and_names() -> None:
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert partitions.month_start(december) == datetime(2026, 12, 1, tzinfo=UTC)
    assert partitions.next_month(datetime(2026, 12, 1, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    assert partitions.partition_name("statements", datetime(2027, 1, 1, tzinfo=UTC)) == (
        "statements_p202701"
    )
    assert partitions.is_partition("statement_agents_p202701")
    assert partitions.is_partition("statements_default")
    assert not partitions.is_partition("statement_ids")
    assert not partitions.is_partition("statements")


async def test_two_instances_dropping_the_same_month_both_succeed(app: FastAPI) -> None:
    """Every worker runs retention: the second to reach an expired month waits for the
    first (an advisory lock) and finds it gone, instead of failing its whole run."""
    now = datetime.now(UTC)
    old = partitions.month_start(now - timedelta(days=300)) + timedelta(days=2)
    sessionmaker = create_sessionmaker(app.state.engine)
    async with sessionmaker() as session:
        expiring = await tenant(session, 30)
        await store_at(session, expiring, row(old))
        await session.commit()

    async def drop() -> dict[int, int]:
        async with sessionmaker() as session:
            dropped = await drop_expired_months(session, EVERY_TENANT, now)
            await session.commit()
            return dropped

    first, second = await asyncio.gather(drop(), drop())
    async with sessionmaker() as session:
        have = await months(session)
        left = await session.scalar(
            select(statements.c.statement_id).where(statements.c.tenant_id == expiring)
        )
    if have:  # PostgreSQL: one of the two dropped the month, the other found it gone
        assert sorted([first.get(expiring, 0), second.get(expiring, 0)]) == [0, 1]
        assert partitions.month_start(old) not in have
        assert left is None
    else:  # SQLite has no months to drop: retention deletes the row one by one later
        assert first == second == {}
        assert left is not None
