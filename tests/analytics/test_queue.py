"""The learner models' queue, on both back ends: a statement write queues its statements in
its own transaction; folding them in later applies each exactly once, whatever happened in
between (voiding, erasure, a rebuild, two writers at once); views answer for everything
stored before they were asked."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from analytics import service as analytics_service
from analytics import store
from analytics.tables import analytics_queue, analytics_states
from auth.models import Role, Scope
from lrs.settings import Settings
from tests.analytics.conftest import (
    answer,
    expire_before,
    key_of,
    post,
    said,
    totals_match_a_recount,
    voiding,
)
from tests.analytics.test_models import random_corpus, worked_example
from tests.conftest import client_for, make_credential, running_app


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Background folding all but off (an hour between looks): the test decides when
    queued statements are folded."""
    return Settings(
        environment="test", database_url=database_url, admin_key=None, analytics_poll_seconds=3600
    )


async def queued(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(analytics_queue)) or 0)


async def queue(session: AsyncSession, tenant_id: int, statement_ids: list[str]) -> None:
    """An entry as a statement write adds it (`StatementHooks.feeds`)."""
    entry = {"tenant_id": tenant_id, "statement_ids": json.dumps(statement_ids)}
    await session.execute(analytics_queue.insert(), entry)


async def models_now(app: FastAPI) -> list[dict[str, Any]]:
    """The saved models as they are, nothing folded first."""
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(analytics_states).order_by(
                analytics_states.c.learner, analytics_states.c.activity_id
            )
        )
        return [dict(row._mapping) for row in rows]


async def fold(app: FastAPI) -> int:
    return int(await app.state.analytics.drain(app.state.sessionmaker, wait=True))


def without_identity(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Models compared across learners: who and which statement came last left out."""
    return [
        {k: v for k, v in model.items() if k not in ("learner", "last_statement")}
        for model in models
    ]


class TestWrite:
    async def test_a_stored_batch_is_queued_in_its_own_transaction(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """One transaction per request: a rejected batch queues nothing (xAPI-Communication
        2.1.2: a batch with an invalid statement stores none of it)."""
        await post(reporter, worked_example("amy"))
        assert await queued(app) == 1
        assert await models_now(app) == []
        invalid = {"actor": {"mbox": "mailto:zed@corp.example.com"}, "verb": {"id": "no-iri"}}
        response = await reporter.post(
            "/xapi/statements", json=[answer("zed", True, "2026-03-02T09:00:00Z"), invalid]
        )
        assert response.status_code == 400
        assert await queued(app) == 1
        assert await fold(app) == 5
        assert {model["learner"] for model in await models_now(app)} == {key_of("amy")}

    async def test_a_batch_sent_again_queues_nothing_and_stops_nothing(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """A client retrying a stored batch (xAPI-Communication 2.1.2.s2: the same
        statements again are no conflict) adds no entry that could end a fold early."""
        batch = worked_example("amy")
        await post(reporter, batch)
        await post(reporter, batch)
        await post(reporter, worked_example("bob"))
        assert await queued(app) == 2
        assert await fold(app) == 10
        assert {model["learner"] for model in await models_now(app)} == {
            key_of("amy"),
            key_of("bob"),
        }

    async def test_an_entry_names_the_new_statements_in_the_order_sent(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """The write adds the entry itself (`StatementHooks.feeds`): statements already
        stored are left out of it (xAPI-Communication 2.1.2.s2), the rest keep their order."""
        # Ids in the reverse of the order sent: an entry listed by id would differ.
        names = {"amy": 4, "bob": 3, "cy": 1, "dee": 2}
        a, b, c, d = (
            {
                **answer(name, True, f"2026-03-0{day}T09:00:00Z"),
                "id": f"{number:08x}-0000-4000-8000-000000000000",
            }
            for day, (name, number) in enumerate(names.items(), start=1)
        )
        await post(reporter, [a, b])
        await post(reporter, [d, a, c])
        async with app.state.sessionmaker() as session:
            entries = await session.scalars(
                select(analytics_queue.c.statement_ids).order_by(analytics_queue.c.id)
            )
            assert [json.loads(entry) for entry in entries] == [
                [a["id"], b["id"]],
                [d["id"], c["id"]],
            ]

    async def test_a_batch_refused_after_its_rows_were_written_queues_nothing(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """xAPI-Communication 2.1.2: a statement id stored with other content is a 409 for
        the whole batch, found after the write (and its queue entry) went in: both roll back."""
        stored = {**answer("amy", True, "2026-03-01T09:00:00Z"), "id": str(uuid.uuid4())}
        await post(reporter, [stored])
        other = {**answer("bob", False, "2026-03-02T09:00:00Z"), "id": str(uuid.uuid4())}
        changed = {**stored, "result": {"success": False}}
        response = await reporter.post("/xapi/statements", json=[other, changed])
        assert response.status_code == 409
        assert await queued(app) == 1
        response = await reporter.get("/xapi/statements", params={"statementId": other["id"]})
        assert response.status_code == 404

    async def test_a_view_answers_for_every_statement_stored_before_it(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        await post(reporter, worked_example("amy"))
        agent = json.dumps({"mbox": "mailto:amy@corp.example.com"})
        response = await reporter.get("/analytics/progress", params={"agent": agent})
        assert response.status_code == 200
        assert len(response.json()["rows"]) == 3  # item, quiz, course
        assert await queued(app) == 0

    async def test_a_view_past_its_fold_budget_says_what_it_does_not_hold(
        self, app: FastAPI, reporter: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A view folds what is queued for at most LRS_ANALYTICS_VIEW_FOLD_SECONDS (a long
        backlog would outlast the request's deadline); it answers without what is still
        queued then and says how many statements that is, rather than show it as complete."""
        await post(reporter, worked_example("amy"))
        monkeypatch.setattr(app.state.analytics, "view_fold_seconds", 0.0)
        found = (await reporter.get("/analytics/progress")).json()
        assert (found["rows"], found["pending"]) == ([], 5)
        as_csv = await reporter.get("/analytics/progress", params={"format": "csv"})
        assert as_csv.headers["LRS-Pending"] == "5"
        monkeypatch.undo()
        again = (await reporter.get("/analytics/progress")).json()
        assert "pending" not in again
        assert len(again["rows"]) == 3
        assert await queued(app) == 0


class TestExactlyOnce:
    async def test_a_statement_queued_again_is_not_folded_twice(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """As when a rebuild read a statement still queued: its evidence is there already."""
        batch = worked_example("amy")
        await post(reporter, batch)
        await fold(app)
        once = await models_now(app)
        async with app.state.sessionmaker() as session:
            tenant_id = once[0]["tenant_id"]
            await queue(session, tenant_id, [s["id"] for s in batch])
            await session.commit()
        assert await fold(app) == 5
        assert await models_now(app) == once

    async def test_a_rebuild_with_statements_queued_equals_folding_them(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        for batch in random_corpus(4):
            await post(reporter, batch)
        tenant_id = await queued_tenant(app)
        async with app.state.sessionmaker() as session:
            await app.state.analytics.rebuild(session, tenant_id)
            await session.commit()
        rebuilt = await models_now(app)
        assert await queued(app) > 0
        await fold(app)
        assert await models_now(app) == rebuilt

    async def test_two_writers_folding_at_once_fold_each_statement_once(
        self, app: FastAPI, reporter: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Every worker of every instance drains the queue; a tenant's lock lets one at a
        time fold its statements. Both at once, taking turns batch by batch, end where a
        rebuild does."""
        monkeypatch.setattr(analytics_service, "ROUND_STATEMENTS", 1)
        for batch in random_corpus(5):
            await post(reporter, batch)
        folded = await asyncio.gather(fold(app), fold(app))
        assert sum(folded) > 0
        assert await queued(app) == 0
        together = await models_now(app)
        async with app.state.sessionmaker() as session:
            await app.state.analytics.rebuild(session, together[0]["tenant_id"])
            await session.commit()
        assert await models_now(app) == together

    async def test_a_round_takes_whole_entries_up_to_its_statements(self, app: FastAPI) -> None:
        """Rounds are bounded by statements, not entries (statements posted one by one
        queue an entry each), and never split a stored batch."""
        sizes = [3, 4, 5, 1]
        entries = [[str(uuid.uuid4()) for _ in range(size)] for size in sizes]
        async with app.state.sessionmaker() as session:
            for statement_ids in entries:
                await queue(session, 1, statement_ids)
            await session.commit()
        async with app.state.sessionmaker() as session:
            assert await store.take_queued(session, 1, None, 5) == entries[0]  # 3 + 4 > 5
            await session.rollback()
        async with app.state.sessionmaker() as session:
            assert await store.take_queued(session, 1, None, 7) == entries[0] + entries[1]
            assert await store.take_queued(session, 1, None, 2) == entries[2]  # one, if bigger
            assert await store.take_queued(session, 2, None, 7) == []  # another tenant's
            await session.rollback()
        async with app.state.sessionmaker() as session:
            newest = await session.scalar(select(func.min(analytics_queue.c.id)))
            assert await store.take_queued(session, 1, newest, 100) == entries[0]
            assert (
                await store.take_queued(session, 1, None, 100)
                == entries[1] + entries[2] + entries[3]
            )
            await session.commit()
        assert await queued(app) == 0

    async def test_statements_posted_one_by_one_fold_in_one_round(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """Each single POST queues an entry; a round takes many (on SQLite up to
        SQLITE_ROUND_STATEMENTS, since a round holds its write lock): 30 entries, one round
        and the look that finds the queue empty, where SQLite had folded them one round (a
        dozen queries) each."""
        for index in range(30):
            await post(reporter, [answer(f"learner{index}", True, "2026-03-02T09:00:00Z")])
        rounds = 0

        def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
            nonlocal rounds
            rounds += sql.lstrip().startswith("DELETE FROM analytics_queue")

        engine = app.state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert await fold(app) == 30
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert rounds == 2

    async def test_a_fold_waits_while_another_writer_holds_the_tenant(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """A rebuild, a fit or an erasure holds the tenant's lock; a fold waits its turn
        rather than write beside it."""
        await post(reporter, worked_example("amy"))
        tenant_id = await queued_tenant(app)
        async with app.state.sessionmaker() as holder:
            await store.lock_tenant(holder, tenant_id, wait=True)
            folding = asyncio.create_task(fold(app))
            await asyncio.sleep(0.5)
            assert not folding.done()
            await holder.commit()
        assert await folding == 5
        assert len(await models_now(app)) == 3


BROKEN = "https://courses.example.com/broken"


async def queued_tenant(app: FastAPI) -> int:
    """The tenant of the statements queued."""
    async with app.state.sessionmaker() as session:
        tenant_id = await session.scalar(select(analytics_queue.c.tenant_id).limit(1))
    assert tenant_id is not None
    return int(tenant_id)


class TestInBetween:
    async def test_a_statement_voided_while_queued_never_counts(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """xAPI-Data 2.3.2: a voided statement no longer counts, even one not folded yet."""
        extra = answer("amy", False, "2026-03-05T08:00:00Z")
        extra["id"] = str(uuid.uuid4())
        await post(reporter, [*worked_example("amy"), extra])
        await post(reporter, [voiding(extra["id"])])
        await post(reporter, worked_example("bob"))
        await fold(app)
        models = await models_now(app)
        amy = [model for model in models if model["learner"] == key_of("amy")]
        bob = [model for model in models if model["learner"] == key_of("bob")]
        assert without_identity(amy) == without_identity(bob)
        assert await totals_match_a_recount(app) == 3

    async def test_a_statement_voided_after_it_was_folded_leaves(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        extra = said(
            "amy", "experienced", "https://courses.example.com/video", "2026-03-06T10:00:00Z"
        )
        await post(reporter, [extra])
        await fold(app)
        assert len(await models_now(app)) == 1
        await post(reporter, [voiding(extra["id"])])
        await fold(app)
        assert await models_now(app) == []

    @pytest.mark.parametrize("mode", ["delete", "pseudonymise"])
    async def test_a_learner_erased_with_statements_queued(
        self, app: FastAPI, reporter: httpx.AsyncClient, mode: str
    ) -> None:
        """Queued statements are read back when folded: an erased learner's are gone, or
        carry the pseudonym."""
        await post(reporter, worked_example("hal"))
        admin, _ = await make_credential(app, [], "acme", role=Role.ADMIN)
        async with client_for(app, admin) as client:
            response = await client.post(
                "/admin/erasure",
                json={"agent": {"mbox": "mailto:hal@corp.example.com"}, "mode": mode},
            )
        assert response.status_code == 200, response.text
        await fold(app)
        learners = {model["learner"] for model in await models_now(app)}
        assert key_of("hal") not in learners
        assert len(learners) == (0 if mode == "delete" else 1)

    async def test_statements_retention_deleted_while_queued_never_count(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        await post(reporter, worked_example("hal"))
        cutoff = datetime.now(UTC)
        await post(reporter, worked_example("ivy"))
        assert (await expire_before(app, cutoff))["acme"]["statements"] == 5
        await fold(app)
        assert {model["learner"] for model in await models_now(app)} == {key_of("ivy")}
        assert await totals_match_a_recount(app) == 3

    async def test_an_entry_whose_fold_raises_is_set_aside(
        self, app: FastAPI, reporter: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A fold that raises (a bug, injected here for one Activity) stops neither the
        tenant's other statements nor its views: that batch is set aside and the views say
        so, until a rebuild reads it again (once the bug is gone)."""
        analytics = app.state.analytics
        evidence_of_batch = analytics.evidence

        def buggy(batch: Any) -> Any:
            batch = list(batch)
            if any(statement["object"]["id"] == BROKEN for statement in batch):
                raise ValueError("a bug")
            return evidence_of_batch(batch)

        monkeypatch.setattr(analytics, "evidence", buggy)
        await post(reporter, worked_example("hal"))
        await post(reporter, [said("amy", "experienced", BROKEN, "2026-03-06T10:00:00Z")])
        await post(reporter, worked_example("ivy"))
        response = await reporter.get("/analytics/progress")
        assert response.status_code == 200, response.text
        found = response.json()
        assert found["set_aside"] == 1
        assert {row["learner"] for row in found["rows"]} == {key_of("hal"), key_of("ivy")}
        as_csv = await reporter.get("/analytics/progress", params={"format": "csv"})
        assert as_csv.headers["LRS-Set-Aside"] == "1"
        assert await queued(app) == 1
        assert await fold(app) == 0  # set aside: not tried again until a rebuild
        monkeypatch.undo()
        tenant_id = await queued_tenant(app)
        async with app.state.sessionmaker() as session:
            await analytics.rebuild(session, tenant_id)
            await session.commit()
        assert await queued(app) == 0
        again = (await reporter.get("/analytics/progress")).json()
        assert "set_aside" not in again
        assert key_of("amy") in {row["learner"] for row in again["rows"]}
        assert await totals_match_a_recount(app) == 4

    async def test_an_error_of_the_database_sets_nothing_aside(
        self, app: FastAPI, reporter: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A lost connection or a deadlock is no fault of the entry: it stays queued and is
        folded at the next try."""
        analytics = app.state.analytics

        def unreachable(batch: Any) -> Any:
            raise OperationalError("SELECT 1", {}, ConnectionResetError())

        monkeypatch.setattr(analytics, "evidence", unreachable)
        await post(reporter, worked_example("hal"))
        with pytest.raises(OperationalError):
            await fold(app)
        async with app.state.sessionmaker() as session:
            assert (await analytics.backlog(session, [await queued_tenant(app)])).set_aside == 0
        monkeypatch.undo()
        assert await fold(app) == 5
        assert await queued(app) == 0


class TestServer:
    @pytest.fixture
    async def busy_app(self, database_url: str) -> AsyncIterator[FastAPI]:
        settings = Settings(
            environment="test",
            database_url=database_url,
            admin_key=None,
            analytics_poll_seconds=0.05,
        )
        async with running_app(settings) as app:
            yield app

    async def test_the_server_folds_queued_statements_by_itself(self, busy_app: FastAPI) -> None:
        authorization, _ = await make_credential(busy_app, [Scope.ALL])
        async with client_for(busy_app, authorization, "2.0.0") as client:
            await post(client, worked_example("amy"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not await queued(busy_app):
                break
            await asyncio.sleep(0.05)
        assert await queued(busy_app) == 0
        assert len(await models_now(busy_app)) == 3

    async def test_with_the_models_off_nothing_is_queued_and_no_view_answers(
        self, database_url: str
    ) -> None:
        settings = Settings(
            environment="test", database_url=database_url, admin_key=None, analytics_enabled=False
        )
        async with running_app(settings) as app:
            authorization, _ = await make_credential(app, [Scope.ALL, Scope.REPORTS_READ])
            async with client_for(app, authorization, "2.0.0") as client:
                await post(client, worked_example("amy"))
                assert (await client.get("/analytics/progress")).status_code == 404
            assert await queued(app) == 0
