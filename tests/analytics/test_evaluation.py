"""The evaluation view on both back ends, on a hand-computed course: reaction (survey),
learning (pre/post-test normalised gain, pass rates, retakes), results (a performance
indicator against the post-test); markers by category, by activity type, and configured."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from auth.models import Scope
from lrs.settings import Settings
from tests.analytics.conftest import COURSE, post, said
from tests.conftest import client_for, make_credential, running_app

PRE, POST, SURVEY = f"{COURSE}/pre", f"{COURSE}/post", f"{COURSE}/survey"
INCIDENTS = "https://kpi.example.com/incidents"


def marked(statement: dict[str, Any], marker: str, *, as_type: bool = False) -> dict[str, Any]:
    """`statement` marked as an evaluation phase: by its object's type or by a category."""
    if as_type:
        statement["object"]["definition"] = {"type": marker}
    else:
        statement.setdefault("context", {}).setdefault("contextActivities", {})["category"] = [
            {"id": marker}
        ]
    return statement


def scored(name: str, verb: str, activity: str, scaled: float, day: int) -> dict[str, Any]:
    result = {"score": {"scaled": scaled}}
    return said(name, verb, activity, _at(day), result=result, grouping=(COURSE,))


def pre_test(name: str, scaled: float, day: int, marker: str = "urn:x-lrs:pre-test") -> Any:
    return marked(scored(name, "scored", PRE, scaled, day), marker)


def post_test(name: str, scaled: float, day: int, *, passed: bool) -> Any:
    statement = scored(name, "passed" if passed else "failed", POST, scaled, day)
    return marked(statement, "urn:x-lrs:post-test", as_type=True)


def survey(name: str, scaled: float, day: int) -> Any:
    return marked(scored(name, "responded", SURVEY, scaled, day), "urn:x-lrs:survey")


def incidents(name: str, count: int, day: int) -> Any:
    statement = said(name, "reported", INCIDENTS, _at(day), result={"score": {"raw": count}})
    return marked(statement, "urn:x-lrs:indicator")


def _at(day: int) -> str:
    return f"2026-04-{day:02d}T09:00:00Z"


def course_statements() -> list[dict[str, Any]]:
    return [
        incidents("ann", 5, 1),
        pre_test("ann", 0.4, 2),
        pre_test("ann", 0.9, 3),  # a second pre-test: the first counts
        post_test("ann", 0.7, 4, passed=False),
        post_test("ann", 0.8, 5, passed=True),  # the last post-test counts
        survey("ann", 0.8, 5),
        incidents("ann", 2, 9),
        incidents("ben", 4, 1),
        pre_test("ben", 0.5, 2),
        post_test("ben", 0.5, 4, passed=False),
        survey("ben", 0.6, 4),
        incidents("ben", 4, 8),
        pre_test("cat", 1.0, 2),  # nothing left to gain: no gain of her own
        post_test("cat", 1.0, 4, passed=True),
        post_test("dan", 0.9, 4, passed=True),  # no pre-test: not paired
        incidents("dan", 1, 9),  # only after the post-test
        pre_test("eve", 0.2, 2),
    ]


def pearson(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


async def evaluation_of(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/analytics/evaluation", params=params)
    assert response.status_code == 200, response.text
    return {row["activity"]: row for row in response.json()["rows"]}


class TestEvaluation:
    async def test_learning_pre_and_post_test_gain_per_course(
        self, reporter: httpx.AsyncClient
    ) -> None:
        """Hake's normalised gain: class (mean post - mean pre) / (1 - mean pre) over the
        paired learners; mean of each learner's (post - pre) / (1 - pre) where pre < 1."""
        await post(reporter, course_statements())
        course = (await evaluation_of(reporter))[COURSE]
        assert course["learners"] == 5
        assert (course["pre_tested"], course["post_tested"], course["paired"]) == (4, 4, 3)
        mean_pre, mean_post = (0.4 + 0.5 + 1.0) / 3, (0.8 + 0.5 + 1.0) / 3
        assert course["mean_pre"] == pytest.approx(mean_pre)
        assert course["mean_post"] == pytest.approx(mean_post)
        assert course["class_gain"] == pytest.approx((mean_post - mean_pre) / (1 - mean_pre))
        assert course["mean_gain"] == pytest.approx(((0.8 - 0.4) / 0.6 + 0.0) / 2)
        assert course["estimate"] == "few observations"  # 3 pairs < 5

    async def test_reaction_is_the_survey_mean(self, reporter: httpx.AsyncClient) -> None:
        await post(reporter, course_statements())
        rows = await evaluation_of(reporter)
        for activity in (COURSE, SURVEY):
            assert rows[activity]["responses"] == 2
            assert rows[activity]["respondents"] == 2
            assert rows[activity]["mean_reaction"] == pytest.approx(0.7)
        assert rows[PRE]["responses"] == 0
        assert rows[PRE]["mean_reaction"] is None

    async def test_pass_rates_and_retakes_of_the_post_test(
        self, reporter: httpx.AsyncClient
    ) -> None:
        await post(reporter, course_statements())
        post_row = (await evaluation_of(reporter))[POST]
        assert post_row["assessed"] == 4  # ann, ben, cat, dan
        assert post_row["pass_rate"] == pytest.approx(3 / 4)  # ann (at last), cat, dan
        assert post_row["first_attempt_pass_rate"] == pytest.approx(2 / 4)  # cat, dan
        assert post_row["retakes"] == 1  # ann's second attempt

    async def test_results_the_indicator_against_the_post_test(
        self, reporter: httpx.AsyncClient
    ) -> None:
        await post(reporter, course_statements())
        rows = await evaluation_of(reporter)
        assert INCIDENTS not in rows  # an indicator is no course
        (effect,) = rows[COURSE]["indicators"]
        assert effect["indicator"] == INCIDENTS
        assert effect["learners"] == 3  # post-tested learners with the indicator
        expected = pearson([0.8, 0.5, 0.9], [(5 + 2) / 2, 4.0, 1.0])
        assert effect["correlation_with_post"] == pytest.approx(expected)
        # Before and after each learner's (last) post-test: ann 5 -> 2, ben 4 -> 4.
        assert effect["learners_before_after"] == 2
        assert effect["mean_before"] == pytest.approx(4.5)
        assert effect["mean_after"] == pytest.approx(3.0)
        assert rows[PRE]["indicators"] == []  # nobody post-tested on the pre-test itself

    async def test_filters_and_csv(self, reporter: httpx.AsyncClient) -> None:
        await post(reporter, course_statements())
        before_the_post_tests = await evaluation_of(reporter, until="2026-04-03T12:00:00Z")
        assert before_the_post_tests[COURSE]["paired"] == 0
        assert before_the_post_tests[COURSE]["pre_tested"] == 4
        agent = json.dumps({"mbox": "mailto:ann@corp.example.com"})
        ann = await evaluation_of(reporter, agent=agent)
        assert ann[COURSE]["mean_gain"] == pytest.approx(0.4 / 0.6)
        response = await reporter.get("/analytics/evaluation", params={"format": "csv"})
        assert response.status_code == 200
        rows = {row["activity"]: row for row in csv.DictReader(io.StringIO(response.text))}
        assert rows[COURSE]["paired"] == "3"
        assert json.loads(rows[COURSE]["indicators"])[0]["indicator"] == INCIDENTS

    async def test_a_voided_post_test_leaves_the_evaluation(
        self, reporter: httpx.AsyncClient
    ) -> None:
        statements = course_statements()
        await post(reporter, statements)
        last_of_ann = statements[4]
        await post(
            reporter,
            [
                {
                    "actor": {"mbox": "mailto:admin@corp.example.com"},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                    "object": {"objectType": "StatementRef", "id": last_of_ann["id"]},
                }
            ],
        )
        course = (await evaluation_of(reporter))[COURSE]
        mean_pre, mean_post = (0.4 + 0.5 + 1.0) / 3, (0.7 + 0.5 + 1.0) / 3
        assert course["class_gain"] == pytest.approx((mean_post - mean_pre) / (1 - mean_pre))


class TestConfiguredMarkers:
    @pytest.fixture
    async def own_markers(self, database_url: str) -> AsyncIterator[FastAPI]:
        settings = Settings(
            environment="test",
            database_url=database_url,
            admin_key=None,
            analytics_pre_test_markers=["https://profiles.example.com/pre"],
        )
        async with running_app(settings) as app:
            yield app

    async def test_a_deployment_names_its_own_markers(self, own_markers: FastAPI) -> None:
        authorization, _ = await make_credential(own_markers, [Scope.ALL, Scope.REPORTS_READ])
        async with client_for(own_markers, authorization, "2.0.0") as client:
            await post(
                client,
                [
                    pre_test("ann", 0.2, 2, marker="https://profiles.example.com/pre"),
                    pre_test("ben", 0.3, 2),  # the default marker, not configured here
                ],
            )
            course = (await evaluation_of(client))[COURSE]
        assert course["pre_tested"] == 1
        assert course["mean_pre"] is None  # nobody paired
        assert course["learners"] == 1
