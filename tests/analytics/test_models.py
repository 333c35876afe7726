"""Learner models kept current as statements are stored, on both back ends: progress,
mastery (BKT) and memory (FSRS) of a hand-worked example, voiding, late evidence, and the
incremental state equal to a rebuild."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from analytics import memory, store
from analytics.learner import ActivityState
from auth.models import Role
from lrs.db import create_sessionmaker
from tests.analytics.conftest import (
    COURSE,
    ITEM,
    QUIZ,
    answer,
    expire_before,
    key_of,
    post,
    said,
    saved_models,
    totals_match_a_recount,
    voiding,
)
from tests.conftest import client_for, make_credential


def bkt_step(p: float, correct: bool) -> float:
    """Corbett & Anderson's update with the default parameters (L0 .3, T .1, S .1, G .2)."""
    if correct:
        posterior = p * 0.9 / (p * 0.9 + (1 - p) * 0.2)
    else:
        posterior = p * 0.1 / (p * 0.1 + (1 - p) * 0.8)
    return posterior + (1 - posterior) * 0.1


def worked_example(name: str) -> list[dict[str, Any]]:
    return [
        answer(name, True, "2026-03-02T09:00:00Z"),
        answer(name, False, "2026-03-02T09:01:00Z"),
        answer(name, True, "2026-03-05T09:00:00Z"),
        said(
            name,
            "passed",
            QUIZ,
            "2026-03-05T09:05:00Z",
            result={"score": {"scaled": 0.8}, "duration": "PT10M"},
            grouping=(COURSE,),
        ),
        said(name, "completed", COURSE, "2026-03-05T09:06:00Z", result={"duration": "PT1H"}),
    ]


async def views_of(client: httpx.AsyncClient, path: str, name: str, **params: str) -> Any:
    agent = json.dumps({"mbox": f"mailto:{name}@corp.example.com"})
    response = await client.get(path, params={"agent": agent, **params})
    assert response.status_code == 200, response.text
    return {
        row.get("activity") or row.get("skill") or row["item"]: row
        for row in response.json()["rows"]
    }


class TestWorkedExample:
    async def test_progress_per_activity_of_the_tree(self, reporter: httpx.AsyncClient) -> None:
        await post(reporter, worked_example("ana"))
        rows = await views_of(reporter, "/analytics/progress", "ana")
        assert set(rows) == {ITEM, QUIZ, COURSE}
        item, quiz, course = rows[ITEM], rows[QUIZ], rows[COURSE]
        assert (item["status"], item["completion"], item["statements"]) == ("started", 0.0, 3)
        assert (quiz["status"], quiz["first_outcome"]) == ("passed", "passed")
        assert (quiz["attempts"], quiz["best_score"], quiz["seconds"]) == (1, 0.8, 600.0)
        # Time on the course counts its own statement and everything grouped under it.
        assert (course["status"], course["completion"], course["seconds"]) == (
            "completed",
            100.0,
            4200.0,
        )
        assert course["statements"] == 5
        assert course["completed_at"] == "2026-03-05T09:06:00.000000Z"
        assert item["first_at"] == "2026-03-02T09:00:00.000000Z"
        assert item["last_at"] == "2026-03-05T09:00:00.000000Z"

    async def test_mastery_of_item_and_competency(self, reporter: httpx.AsyncClient) -> None:
        await post(reporter, worked_example("ana"))
        rows = await views_of(reporter, "/analytics/mastery", "ana")
        # The course is no skill: a grouping is not evidence of mastery.
        assert set(rows) == {ITEM, QUIZ}
        expected_item = 0.3
        for correct in (True, False, True):
            expected_item = bkt_step(expected_item, correct)
        assert rows[ITEM]["mastery"] == pytest.approx(expected_item, abs=1e-12)
        assert (rows[ITEM]["answers"], rows[ITEM]["correct"]) == (3, 2)
        # The quiz is the items' parent: their answers and its own pass.
        expected_quiz = bkt_step(expected_item, True)
        assert rows[QUIZ]["mastery"] == pytest.approx(expected_quiz, abs=1e-12)
        assert rows[QUIZ]["answers"] == 4
        # Three or four answers are too few to state as fact (LRS_ANALYTICS_MIN_OBSERVATIONS 5).
        assert rows[ITEM]["estimate"] == "few observations"

    async def test_memory_follows_the_forgetting_curve(self, reporter: httpx.AsyncClient) -> None:
        await post(reporter, worked_example("ana"))
        rows = await views_of(reporter, "/analytics/memory", "ana")
        assert set(rows) == {ITEM, QUIZ}
        item = rows[ITEM]
        assert item["reviews"] == 3
        assert item["last_review"] == "2026-03-05T09:00:00.000000Z"
        last = datetime(2026, 3, 5, 9, tzinfo=UTC)
        # Stability is the number of days after which recall has fallen to 90 %.
        at_stability = last + timedelta(days=item["stability"])
        again = await views_of(
            reporter, "/analytics/memory", "ana", at=at_stability.isoformat(), retention="0.9"
        )
        assert again[ITEM]["retrievability"] == pytest.approx(0.9, abs=1e-6)
        next_review = datetime.fromisoformat(again[ITEM]["next_review"])
        assert abs(next_review - at_stability) < timedelta(milliseconds=1)
        # Just before the next review it is not due; a day after, it is on the review list.
        due = await views_of(
            reporter,
            "/analytics/memory/due",
            "ana",
            at=(last + timedelta(days=item["stability"] + 1)).isoformat(),
        )
        assert ITEM in due
        not_due = await views_of(
            reporter,
            "/analytics/memory/due",
            "ana",
            at=(last + timedelta(days=item["stability"] - 0.01)).isoformat(),
        )
        assert ITEM not in not_due


class TestRetraction:
    async def test_voiding_takes_a_statement_back(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """xAPI-Data 2.3.2: a voided statement no longer counts, so its evidence goes."""
        wrong = answer("bo", False, "2026-03-02T09:01:00Z")
        await post(reporter, [answer("bo", True, "2026-03-02T09:00:00Z"), wrong])
        await post(reporter, [voiding(wrong["id"])])
        await post(reporter, [answer("cy", True, "2026-03-02T09:00:00Z")])
        bo = await views_of(reporter, "/analytics/mastery", "bo")
        cy = await views_of(reporter, "/analytics/mastery", "cy")
        for skill in (ITEM, QUIZ):
            assert bo[skill]["answers"] == 1
            assert bo[skill]["mastery"] == cy[skill]["mastery"]

    async def test_voiding_the_only_evidence_removes_the_model(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        only = answer("di", True, "2026-03-02T09:00:00Z")
        await post(reporter, [only])
        await post(reporter, [voiding(only["id"])])
        assert await views_of(reporter, "/analytics/progress", "di") == {}

    async def test_a_statement_voided_before_it_arrives_never_counts(
        self, reporter: httpx.AsyncClient
    ) -> None:
        late = answer("ed", True, "2026-03-02T09:00:00Z")
        await post(reporter, [voiding(late["id"])])
        await post(reporter, [late])
        assert await views_of(reporter, "/analytics/progress", "ed") == {}


class TestOrder:
    async def test_late_evidence_is_folded_in_time_order(self, reporter: httpx.AsyncClient) -> None:
        """A statement's timestamp orders the models' evidence, not its arrival: one sent
        late (offline content) ends in the state the in-order stream gives."""
        in_order = worked_example("fay")
        late = worked_example("gus")
        await post(reporter, in_order)
        await post(reporter, late[2:])
        await post(reporter, late[:2])
        at = {"at": "2026-04-01T00:00:00Z"}
        for path, params in (
            ("/analytics/progress", {}),
            ("/analytics/mastery", {}),
            ("/analytics/memory", at),
        ):
            fay = await views_of(reporter, path, "fay", **params)
            gus = await views_of(reporter, path, "gus", **params)
            for activity, row in fay.items():
                assert {**gus[activity], "learner": row["learner"]} == row


def random_corpus(seed: int) -> list[list[dict[str, Any]]]:
    """Batches of answers, passes, progress and completions by a few learners on a few items,
    with timestamps out of arrival order, re-sent statements and voiding (some before their
    target arrives)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    statements: list[dict[str, Any]] = []
    for _ in range(120):
        name = rng.choice(("ann", "ben", "cat"))
        item = f"{QUIZ}/q{rng.randint(1, 4)}"
        moment = (start + timedelta(minutes=rng.randint(0, 60 * 24 * 40))).isoformat()
        kind = rng.random()
        if kind < 0.6:
            statements.append(
                answer(name, rng.random() < 0.6, moment, item, score={"scaled": rng.random()})
            )
        elif kind < 0.75:
            verb = rng.choice(("passed", "failed"))
            statements.append(
                said(
                    name,
                    verb,
                    QUIZ,
                    moment,
                    grouping=(COURSE,),
                    result={"duration": f"PT{rng.randint(1, 900)}S"},
                )
            )
        else:
            progress = {
                "https://w3id.org/xapi/cmi5/result/extensions/progress": rng.randint(0, 100)
            }
            statements.append(
                said(
                    name,
                    rng.choice(("progressed", "completed")),
                    item,
                    moment,
                    parents=(QUIZ,),
                    result={"extensions": progress},
                )
            )
    voided = rng.sample(statements, 15)
    voids = [voiding(target["id"]) for target in voided]
    stream = statements + voids + rng.sample(statements, 10)  # re-sent: no-ops
    rng.shuffle(stream)
    batches = []
    while stream:
        size = rng.randint(1, 12)
        batch, stream = stream[:size], stream[size:]
        ids = [s.get("id") for s in batch]
        batches.append([s for i, s in enumerate(batch) if "id" not in s or s["id"] not in ids[:i]])
    return batches


class TestRebuild:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    async def test_incremental_state_equals_a_rebuild(
        self, app: FastAPI, reporter: httpx.AsyncClient, seed: int
    ) -> None:
        for batch in random_corpus(seed):
            await post(reporter, batch)
        incremental = await saved_models(app)
        assert len(incremental) > 10
        assert await totals_match_a_recount(app) > 3
        async with create_sessionmaker(app.state.engine)() as session:
            tenant_id = incremental[0]["tenant_id"]
            rebuilt = await app.state.analytics.rebuild(session, tenant_id)
            await session.commit()
        assert rebuilt.models == len(incremental)
        assert await saved_models(app) == incremental


class TestErasure:
    @pytest.mark.parametrize("mode", ["delete", "pseudonymise"])
    async def test_an_erased_learners_models_go_or_follow_the_pseudonym(
        self, app: FastAPI, reporter: httpx.AsyncClient, mode: str
    ) -> None:
        """Erasure covers what was made of the learner's statements: deleted with them, or
        kept under the pseudonym the statements now carry (what a rebuild gives)."""
        await post(reporter, worked_example("hal") + worked_example("ivy"))
        admin, _ = await make_credential(app, [], "acme", role=Role.ADMIN)
        async with client_for(app, admin) as client:
            response = await client.post(
                "/admin/erasure",
                json={"agent": {"mbox": "mailto:hal@corp.example.com"}, "mode": mode},
            )
        assert response.status_code == 200, response.text
        assert await views_of(reporter, "/analytics/progress", "hal") == {}
        learners = {row["learner"] for row in await saved_models(app)}
        assert key_of("ivy") in learners
        assert len(learners) == (1 if mode == "delete" else 2)
        assert await totals_match_a_recount(app) == 3  # item, quiz, course
        before = await saved_models(app)
        async with create_sessionmaker(app.state.engine)() as session:
            await app.state.analytics.rebuild(session, before[0]["tenant_id"])
            await session.commit()
        assert await saved_models(app) == before


class TestRetention:
    async def test_what_retention_deletes_leaves_the_models(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        """Statements retention deletes (stored before its cutoff) take their evidence with
        them: the models left are those a rebuild makes from the statements kept. ivy's
        answers go, her pass and completion stay."""
        ivy = worked_example("ivy")
        await post(reporter, worked_example("hal") + ivy[:3])
        await saved_models(app)
        cutoff = datetime.now(UTC)
        await post(reporter, ivy[3:] + worked_example("jon"))
        results = await expire_before(app, cutoff)
        assert results["acme"]["statements"] == 8
        after = await saved_models(app)
        assert {model["learner"] for model in after} == {key_of("ivy"), key_of("jon")}
        kept = {m["activity_id"]: m for m in after if m["learner"] == key_of("ivy")}
        assert set(kept) == {QUIZ, COURSE}
        assert (kept[QUIZ]["statements"], kept[QUIZ]["answers"]) == (1, 1)  # the pass alone
        assert (kept[QUIZ]["outcome"], kept[COURSE]["statements"]) == ("passed", 2)
        assert await totals_match_a_recount(app) == 3
        async with create_sessionmaker(app.state.engine)() as session:
            await app.state.analytics.rebuild(session, after[0]["tenant_id"])
            await session.commit()
        assert await saved_models(app) == after


class TestSavedModels:
    async def test_a_model_reads_back_as_saved_whether_new_or_replaced(self, app: FastAPI) -> None:
        """A model without a saved row is copied in plainly, one with a row replaces it
        (store.save_states): both read back field for field."""
        at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
        remembered = memory.Memory(
            state=2, step=None, stability=3.5, difficulty=6.25, due=at + timedelta(days=4),
            last_review=at, reviews=3,
        )  # fmt: skip
        model = ActivityState(
            learner=key_of("kim"), activity_id=ITEM, first_at=at - timedelta(days=2),
            last_at=at, last_statement="0b6e0d1e-3a0c-4f8e-9a57-3c1d2e0c5a11", statements=7,
            seconds=612.5, completed_at=at - timedelta(hours=1), progress=80.0,
            outcome="passed", first_outcome="failed", attempts=2, best_score=0.875, answers=5,
            correct=4, mastery=0.9375, memory=remembered,
        )  # fmt: skip
        key = (model.learner, model.activity_id)
        tenant_id = 4242  # the models' tables key by tenant id alone
        async with create_sessionmaker(app.state.engine)() as session:
            assert await store.states_of(session, tenant_id, [key]) == {}  # as a fold looks
            await store.save_states(session, tenant_id, [model], saved=())
            assert await store.states_of(session, tenant_id, [key]) == {key: model}
            later = replace(model, statements=8, memory=None, mastery=None, progress=None)
            await store.save_states(session, tenant_id, [later], saved={key})
            assert await store.states_of(session, tenant_id, [key]) == {key: later}
            await session.rollback()
