"""Progress through a cmi5 course's structure (/analytics/progress/course), on both back
ends: the sample course (policy: NotApplicable; fire block: video Completed, quiz Passed;
first-aid block: practice CompletedAndPassed) played by three learners through the LMS and
AU sessions, and the trees and summary computed by hand."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from analytics.views import COURSE_COLUMNS
from auth.models import Role, Scope
from statements.validation import agent_ifi
from tests.cmi5 import conftest as cmi5
from tests.cmi5.conftest import (
    COURSE,
    FIRE,
    FIRST_AID,
    POLICY,
    PRACTICE,
    QUIZ,
    VIDEO,
    learner,
    register,
    started,
)
from tests.conftest import client_for, make_credential

# The cmi5 tests' LMS client and sample course, as fixtures here.
lms, course = cmi5.lms, cmi5.course
PATH = "/analytics/progress/course"
NODES = [COURSE, POLICY, FIRE, VIDEO, QUIZ, FIRST_AID, PRACTICE]
ANN, BEN, CAT = (str(agent_ifi(learner(name))) for name in ("ann", "ben", "cat"))


async def play(
    app: FastAPI, lms: httpx.AsyncClient, registration: str, au: str, *verbs: str
) -> None:
    """One AU session: initialized, `verbs` (with the AU library's usual results), terminated."""
    player = await started(app, lms, registration, au)
    for verb in (*verbs, "terminated"):
        response = await player.send(verb)
        assert response.status_code == 200, response.text
    await player.close()


@pytest.fixture
async def played(app: FastAPI, lms: httpx.AsyncClient, course: dict[str, Any]) -> None:
    """ann completes the video and fails the quiz; ben only registers; cat completes the
    video, passes the quiz and has the practice waived, which satisfies the course."""
    ann = await register(lms, learner("ann"))
    await play(app, lms, ann, VIDEO, "completed")
    await play(app, lms, ann, QUIZ, "failed")
    await register(lms, learner("ben"))
    cat = await register(lms, learner("cat"))
    await play(app, lms, cat, VIDEO, "completed")
    await play(app, lms, cat, QUIZ, "passed")
    waived = await lms.post(
        f"/cmi5/registrations/{cat}/waive", json={"au": PRACTICE, "reason": "Tested Out"}
    )
    assert waived.status_code == 200, waived.text


async def view(client: httpx.AsyncClient, path: str = PATH, **params: str) -> dict[str, Any]:
    response = await client.get(path, params={"course": COURSE, **params})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def tree_of(rows: list[dict[str, Any]], who: str) -> dict[str, dict[str, Any]]:
    return {row["node"]: row for row in rows if row["learner"] == who}


@pytest.mark.usefixtures("played")
class TestLearnerTrees:
    async def test_a_learner_part_way(self, reporter: httpx.AsyncClient) -> None:
        """cmi5 13.1.4: the video's moveOn (Completed) is met, the quiz's (Passed) is not;
        the NotApplicable policy is met at registration. Completion: policy 100, video 100,
        quiz 0, practice 0."""
        rows = (await view(reporter, agent=json.dumps(learner("ann"))))["rows"]
        assert [row["node"] for row in rows] == NODES
        tree = tree_of(rows, ANN)
        assert {node: row["status"] for node, row in tree.items()} == {
            COURSE: "started",
            POLICY: "satisfied",
            FIRE: "started",
            VIDEO: "satisfied",
            QUIZ: "failed",
            FIRST_AID: "not attempted",
            PRACTICE: "not attempted",
        }
        expected = {COURSE: (50.0, 4, 2), FIRE: (50.0, 2, 1), FIRST_AID: (0.0, 1, 0)}
        for node, (completion, aus, satisfied) in expected.items():
            assert (tree[node]["completion"], tree[node]["aus"], tree[node]["aus_satisfied"]) == (
                completion,
                aus,
                satisfied,
            )
        assert (tree[QUIZ]["completion"], tree[QUIZ]["passed"], tree[QUIZ]["completed"]) == (
            0.0,
            False,
            False,
        )
        assert tree[VIDEO]["completed"] is True
        assert tree[POLICY]["statements"] == 0
        # Each session: launched, initialized, the verb (PT1M), terminated (PT2M); only the
        # session's total counts (cmi5 9.5.4.1: the verb's minute lies within it).
        assert (tree[VIDEO]["seconds"], tree[VIDEO]["statements"]) == (120.0, 4)
        assert (tree[FIRE]["seconds"], tree[FIRE]["statements"]) == (240.0, 8)
        assert (tree[COURSE]["seconds"], tree[COURSE]["statements"]) == (240.0, 8)
        assert tree[COURSE]["first_at"] == tree[VIDEO]["first_at"]
        assert tree[COURSE]["last_at"] == tree[QUIZ]["last_at"]
        assert (tree[FIRE]["parent"], tree[FIRE]["depth"], tree[QUIZ]["depth"]) == (COURSE, 1, 2)
        assert tree[QUIZ]["move_on"] == "Passed"
        assert tree[FIRE]["move_on"] is None
        assert tree[COURSE]["title"] == {"en-US": "Workplace safety"}

    async def test_a_learner_who_only_registered(self, reporter: httpx.AsyncClient) -> None:
        tree = tree_of((await view(reporter, agent=json.dumps(learner("ben"))))["rows"], BEN)
        assert (tree[COURSE]["status"], tree[COURSE]["completion"]) == ("not attempted", 25.0)
        assert tree[COURSE]["last_at"] is None

    async def test_a_satisfied_course(self, reporter: httpx.AsyncClient) -> None:
        """cmi5 9.3.7: a waived AU is satisfied; every AU satisfied satisfies the blocks and
        the course (the LMS's satisfied statements count toward them)."""
        tree = tree_of((await view(reporter, agent=json.dumps(learner("cat"))))["rows"], CAT)
        assert tree[PRACTICE]["status"] == "waived"
        assert tree[PRACTICE]["waived"] is True
        assert all(row["satisfied"] for row in tree.values())
        assert (tree[COURSE]["status"], tree[COURSE]["completion"]) == ("satisfied", 100.0)
        assert tree[COURSE]["aus_satisfied"] == 4
        aus = (VIDEO, QUIZ, PRACTICE)
        assert tree[COURSE]["statements"] == sum(tree[au]["statements"] for au in aus) + 1
        assert tree[FIRST_AID]["statements"] == tree[PRACTICE]["statements"] + 1

    async def test_pages_hold_whole_learners(self, reporter: httpx.AsyncClient) -> None:
        seen: list[str] = []
        page = await view(reporter, limit="1")
        while True:
            assert len({row["learner"] for row in page["rows"]}) == 1
            assert [row["node"] for row in page["rows"]] == NODES
            seen.append(page["rows"][0]["learner"])
            if page["more"] is None:
                break
            response = await reporter.get(page["more"])
            assert response.status_code == 200, response.text
            page = response.json()
        assert sorted(seen) == seen
        assert set(seen) == {ANN, BEN, CAT}

    async def test_csv(self, reporter: httpx.AsyncClient) -> None:
        response = await reporter.get(PATH, params={"course": COURSE, "format": "csv"})
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert list(rows[0]) == list(COURSE_COLUMNS)
        assert len(rows) == 3 * len(NODES)
        assert {row["satisfied"] for row in rows} == {"true", "false"}

    async def test_a_cohort(self, app: FastAPI, reporter: httpx.AsyncClient) -> None:
        admin, _ = await make_credential(app, [], "acme", role=Role.ADMIN)
        person = {"external_id": "p-cat", "org_unit": "ops", "agents": [learner("cat")]}
        async with client_for(app, admin) as client:
            imported = await client.post("/admin/directory/acme/import", json=[person])
        assert imported.status_code == 200, imported.text
        rows = (await view(reporter, org_unit="ops"))["rows"]
        assert {row["learner"] for row in rows} == {CAT}


async def test_a_learner_registered_twice_has_met_what_either_met(
    app: FastAPI, lms: httpx.AsyncClient, reporter: httpx.AsyncClient, course: dict[str, Any]
) -> None:
    """Progress is per learner: dee passed the quiz in her first registration and had it
    waived in her second; it is both, and the video, met in neither, is not."""
    first = await register(lms, learner("dee"))
    await play(app, lms, first, QUIZ, "passed")
    second = await register(lms, learner("dee"))
    waived = await lms.post(
        f"/cmi5/registrations/{second}/waive", json={"au": QUIZ, "reason": "Tested Out"}
    )
    assert waived.status_code == 200, waived.text
    rows = (await view(reporter, agent=json.dumps(learner("dee"))))["rows"]
    tree = tree_of(rows, str(agent_ifi(learner("dee"))))
    assert (tree[QUIZ]["satisfied"], tree[QUIZ]["passed"], tree[QUIZ]["waived"]) == (
        True,
        True,
        True,
    )
    assert (tree[VIDEO]["satisfied"], tree[COURSE]["completion"]) == (False, 50.0)
    summary = {row["node"]: row for row in (await view(reporter, f"{PATH}/summary"))["rows"]}
    assert (summary[QUIZ]["learners"], summary[QUIZ]["satisfied"]) == (1, 1)


@pytest.mark.usefixtures("played")
async def test_summary(reporter: httpx.AsyncClient) -> None:
    """Per node over the three: learners with statements about it, satisfied, mean
    completion (course: ann 50, ben 25, cat 100)."""
    rows = {row["node"]: row for row in (await view(reporter, f"{PATH}/summary"))["rows"]}
    assert list(rows) == NODES
    course = rows[COURSE]
    assert (course["learners"], course["started"], course["satisfied"]) == (3, 2, 1)
    assert course["satisfied_rate"] == pytest.approx(1 / 3)
    assert course["mean_completion"] == pytest.approx((50 + 25 + 100) / 3)
    assert course["estimate"] == "few observations"
    assert (rows[POLICY]["satisfied"], rows[POLICY]["started"]) == (3, 0)
    assert (rows[QUIZ]["started"], rows[QUIZ]["satisfied"]) == (2, 1)
    assert rows[VIDEO]["mean_seconds"] == pytest.approx(2 * 120 / 3)


async def test_the_course_is_required_and_must_exist(
    app: FastAPI, reporter: httpx.AsyncClient, course: dict[str, Any]
) -> None:
    for path in (PATH, f"{PATH}/summary"):
        missing = await reporter.get(path)
        assert missing.status_code == 400
        assert missing.json()["error"]["field"] == "course"
        unknown = await reporter.get(path, params={"course": "https://example.com/none"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["field"] == "course"
        # The OpenAPI document lists it (make fuzz found it missing).
        assert "404" in app.openapi()["paths"][path]["get"]["responses"]
    # Another tenant's reader does not see acme's course.
    other, _ = await make_credential(app, [Scope.REPORTS_READ], "globex")
    async with client_for(app, other) as client:
        response = await client.get(PATH, params={"course": COURSE})
    assert response.status_code == 404
