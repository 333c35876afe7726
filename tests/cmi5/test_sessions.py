"""Whole AU sessions played as a cmi5 AU would, and every rule the LMS enforces on them."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from auth.models import Role
from cmi5 import rules
from cmi5.package import sample_package
from lrs.settings import Settings
from tests.cmi5.conftest import (
    AU,
    COURSE,
    FIRE,
    FIRST_AID,
    PRACTICE,
    QUIZ,
    VIDEO,
    launch,
    register,
    started,
    statements_of,
    verbs,
)
from tests.conftest import client_for, make_credential, running_app

pytestmark = pytest.mark.usefixtures("course")


async def satisfied_nodes(lms: httpx.AsyncClient, registration: str) -> list[str]:
    found = await statements_of(lms, registration)
    return [
        s["context"]["contextActivities"]["grouping"][0]["id"]
        for s in found
        if s["verb"]["id"] == rules.VERBS["satisfied"]
    ]


class TestLaunch:
    async def test_the_launch_url_carries_the_five_parameters(self, lms: httpx.AsyncClient) -> None:
        """cmi5 8.1: endpoint, fetch, actor, registration, activityId, beside the AU url's
        own query."""
        registration = await register(lms)
        launched = await launch(lms, registration, QUIZ, returnURL="https://lms.example.org/back")
        assert launched["launchMethod"] == "OwnWindow"
        query = dict(parse_qsl(urlsplit(launched["url"]).query))
        assert query["page"] == "quiz"
        assert query["endpoint"] == "http://localhost:8000/xapi"  # no trailing slash
        assert query["registration"] == registration
        assert json.loads(query["actor"])["objectType"] == "Agent"
        assert query["activityId"] == launched["activityId"] != QUIZ
        again = await launch(lms, await register(lms), QUIZ)
        assert again["activityId"] == launched["activityId"]  # 8.1.5: stable

    async def test_launch_data_preferences_and_launched(
        self, app: FastAPI, lms: httpx.AsyncClient
    ) -> None:
        """cmi5 10.2 LMS.LaunchData, 11 cmi5LearnerPreferences, 9.3.1 launched."""
        registration = await register(lms)
        launched = await launch(lms, registration, QUIZ, returnURL="https://lms.example.org/back")
        au = AU(app, launched)
        await au.connect()
        data = au.launch_data
        session_id = launched["sessionId"]
        assert data["contextTemplate"] == {
            "contextActivities": {"grouping": [{"id": QUIZ}]},
            "extensions": {rules.SESSION_ID: session_id},
        }
        assert data["launchMode"] == "Normal"
        assert data["moveOn"] == "Passed"
        assert data["masteryScore"] == 0.8
        assert data["launchParameters"] == '{"questions": 5}'
        assert data["entitlementKey"] == {"courseStructure": "safety-2026"}
        assert data["returnURL"] == "https://lms.example.org/back"
        preferences = (await au.get_preferences()).json()
        assert preferences == {"languagePreference": "en-US", "audioPreference": "on"}
        [launched_statement] = await statements_of(lms, registration)
        assert verbs([launched_statement]) == ["launched"]
        assert launched_statement["object"]["id"] == au.activity_id
        context = launched_statement["context"]
        assert context["contextActivities"]["category"] == [{"id": rules.CATEGORY}]
        assert context["extensions"][rules.SESSION_ID] == session_id
        assert context["extensions"][rules.LAUNCH_MODE] == "Normal"
        assert context["extensions"][rules.MOVE_ON] == "Passed"
        assert context["extensions"][rules.MASTERY_SCORE] == 0.8
        assert context["extensions"][rules.LAUNCH_PARAMETERS] == '{"questions": 5}'
        launch_url = context["extensions"][rules.LAUNCH_URL]
        assert launch_url.endswith("index.html?page=quiz")
        assert "fetch" not in launch_url
        await au.close()

    async def test_unknown_au_and_mode(self, lms: httpx.AsyncClient) -> None:
        registration = await register(lms)
        path = f"/cmi5/registrations/{registration}/launch"
        assert (await lms.post(path, json={"au": "https://x.org/none"})).status_code == 404
        bad_mode = await lms.post(path, json={"au": QUIZ, "launchMode": "Fast"})
        assert bad_mode.status_code == 400


class TestFetch:
    async def test_the_token_is_handed_out_once(self, app: FastAPI, lms: httpx.AsyncClient) -> None:
        """cmi5 8.2.3: a second POST answers error 1, a forged URL error 2, GET is refused."""
        au = AU(app, await launch(lms, await register(lms), VIDEO))
        first = await au.fetch()
        assert set(first) == {"auth-token"}
        assert await au.fetch() == {
            "error-code": "1",
            "error-text": "the auth token of this session has been handed out",
        }
        async with client_for(app, None) as anonymous:
            forged = await anonymous.post(au.fetch_path[:-4] + "xxxx")
            assert forged.json()["error-code"] == "2"
            assert (await anonymous.post("/cmi5/fetch/not-a-uuid/x")).json()["error-code"] == "2"
            assert (await anonymous.get(au.fetch_path)).status_code == 405

    async def test_an_expired_session_gives_no_token_and_its_token_stops_working(
        self, settings: Settings
    ) -> None:
        """cmi5 8.2.1: the token lives as long as the session (here one second); 9.3.6: the
        server's timer then records the session abandoned."""
        short = settings.model_copy(
            update={"cmi5_session_seconds": 1.0, "cmi5_abandon_interval_seconds": 0.2}
        )
        async with running_app(short) as app:
            authorization, _ = await make_credential(app, [], role=Role.LMS)
            async with client_for(app, authorization) as lms:
                await lms.post(
                    "/cmi5/courses",
                    content=sample_package(),
                    headers={"Content-Type": "application/zip"},
                )
                registration = await register(lms)
                au = AU(app, await launch(lms, registration, VIDEO))
                await au.start()
                late = AU(app, await launch(lms, await register(lms), QUIZ))
                await asyncio.sleep(1.2)
                assert (await late.fetch())["error-code"] == "1"
                expired = await au.send("terminated")
                assert expired.status_code == 401
                for _ in range(50):  # the timer's next tick
                    found = verbs(await statements_of(lms, registration))
                    if "abandoned" in found:
                        break
                    await asyncio.sleep(0.1)
                assert found == ["launched", "initialized", "abandoned"]
                await au.close()


class TestWholeCourse:
    async def test_passing_and_completing_satisfies_blocks_then_the_course(
        self, app: FastAPI, lms: httpx.AsyncClient
    ) -> None:
        """cmi5 9.3.9, 13.1.4 moveOn: Completed, Passed, CompletedAndPassed across two
        sessions; satisfied is written in the request that meets it, block before course,
        before terminated (CATAPULT 001)."""
        registration = await register(lms)
        video = await started(app, lms, registration, VIDEO)
        assert (await video.send("completed")).status_code == 200
        assert (await video.send("terminated")).status_code == 200
        quiz = await started(app, lms, registration, QUIZ)
        assert (await quiz.send("passed")).status_code == 200
        assert await satisfied_nodes(lms, registration) == [FIRE]
        assert (await quiz.send("terminated")).status_code == 200

        practice = await started(app, lms, registration, PRACTICE)
        assert (await practice.send("completed")).status_code == 200
        assert (await practice.send("terminated")).status_code == 200
        assert await satisfied_nodes(lms, registration) == [FIRE]
        again = await started(app, lms, registration, PRACTICE)
        second_completed = await again.send("completed")
        assert second_completed.status_code == 403  # cmi5 9.3.3: once per registration
        assert "9.3.3" in second_completed.json()["error"]["message"]
        assert (await again.send("passed")).status_code == 200
        assert (await again.send("terminated")).status_code == 200

        found = await statements_of(lms, registration)
        assert verbs(found)[-4:] == ["passed", "satisfied", "satisfied", "terminated"]
        assert await satisfied_nodes(lms, registration) == [FIRE, FIRST_AID, COURSE]
        course_statement = found[-2]
        assert course_statement["object"]["definition"]["type"] == rules.COURSE_TYPE
        session_id = course_statement["context"]["extensions"][rules.SESSION_ID]
        assert session_id == again.launch["sessionId"]
        status = (await lms.get(f"/cmi5/registrations/{registration}")).json()
        assert status["course"]["satisfied"] is True
        for au in (video, quiz, practice, again):
            await au.close()

    async def test_passed_and_completed_in_one_batch(
        self, app: FastAPI, lms: httpx.AsyncClient
    ) -> None:
        """The order CATAPULT expects: passed, completed, satisfied (block), terminated."""
        registration = await register(lms)
        practice = await started(app, lms, registration, PRACTICE)
        batch = [practice.statement("passed"), practice.statement("completed")]
        assert (await practice.post(batch)).status_code == 200
        assert (await practice.send("terminated")).status_code == 200
        assert verbs(await statements_of(lms, registration)) == [
            "launched",
            "initialized",
            "passed",
            "completed",
            "satisfied",
            "terminated",
        ]
        await practice.close()


def _without(statement: dict[str, Any], *path: str) -> dict[str, Any]:
    target = statement
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return statement


class TestStatementRules:
    """cmi5 9 and 7.1, enforced on what a session's credential sends: 403 naming the rule,
    nothing stored."""

    @pytest.fixture
    async def quiz(self, app: FastAPI, lms: httpx.AsyncClient) -> Any:
        player = await started(app, lms, await register(lms), QUIZ)
        yield player
        await player.close()

    @pytest.mark.parametrize(
        ("break_it", "rule"),
        [
            (lambda s: _without(s, "id"), "9.1"),
            (lambda s: s.update(timestamp="2026-12-01T10:00:00-05:00"), "9.7"),
            (lambda s: _without(s, "timestamp"), "9.7"),
            (lambda s: s["actor"]["account"].update(name="someone-else"), "9.2"),
            (lambda s: s["context"].update(registration=str(uuid.uuid4())), "9.6.1"),
            (lambda s: s["context"]["extensions"].update({rules.SESSION_ID: "other"}), "9.6.3.1"),
            (lambda s: s["context"]["contextActivities"].update(grouping=[]), "10.2.1"),
            (lambda s: s["object"].update(id="https://example.org/other"), "9.4"),
            (lambda s: s["verb"].update(id=rules.VERBS["launched"]), "9.3"),
            (lambda s: s["verb"].update(id=rules.VERBS["satisfied"]), "9.3"),
            (
                lambda s: s.update(
                    verb={"id": rules.VOIDED},
                    object={"objectType": "StatementRef", "id": str(uuid.uuid4())},
                ),
                "6.3",
            ),
            (lambda s: s["result"].update(score={"scaled": 0.7}), "9.3.4"),
            (lambda s: s["result"].update(score={"raw": 9}), "9.5.1"),
            (lambda s: _without(s, "result", "duration"), "9.5.4.1"),
            (lambda s: _without(s, "result", "success"), "9.5.2"),
            (lambda s: s["result"].update(completion=True), "9.5.3"),
            (
                lambda s: s["context"]["contextActivities"].update(
                    category=[{"id": rules.CATEGORY}]
                ),
                "9.6.2.2",
            ),
            (lambda s: _without(s, "context", "extensions", rules.MASTERY_SCORE), "9.6.3.2"),
            (lambda s: s["result"].update(extensions={rules.PROGRESS: 101}), "9.5.5.1"),
        ],
    )
    async def test_a_broken_passed_is_refused(
        self, quiz: AU, lms: httpx.AsyncClient, break_it: Any, rule: str
    ) -> None:
        statement = quiz.statement("passed")
        break_it(statement)
        response = await quiz.post(statement)
        assert response.status_code == 403, response.text
        assert rule in response.json()["error"]["message"]
        assert "passed" not in verbs(await statements_of(lms, quiz.registration))
        assert (await quiz.send("passed")).status_code == 200  # the session goes on

    async def test_failed_needs_a_score_below_the_mastery_score(self, quiz: AU) -> None:
        """cmi5 9.3.5, then 9.3: passed and failed never both in a session."""
        high = await quiz.send(
            "failed", {"success": False, "duration": "PT1M", "score": {"scaled": 0.85}}
        )
        assert high.status_code == 403
        assert "9.3.5" in high.json()["error"]["message"]
        assert (await quiz.send("failed")).status_code == 200
        assert (await quiz.send("passed")).status_code == 403

    async def test_a_resent_statement_is_the_plain_xapi_no_op(self, quiz: AU) -> None:
        """An AU retrying a PUT it sent before gets 204 as xAPI-Communication 2.1.1 says,
        not a second-initialized 403; other content under the id is still a 409."""
        assert quiz.client is not None
        passed = quiz.statement("passed")
        path = f"{quiz.endpoint}/statements"
        first = await quiz.client.put(path, params={"statementId": passed["id"]}, json=passed)
        assert first.status_code == 204
        again = await quiz.client.put(path, params={"statementId": passed["id"]}, json=passed)
        assert again.status_code == 204
        changed = {**passed, "result": {**passed["result"], "duration": "PT9M"}}
        other = await quiz.client.put(path, params={"statementId": passed["id"]}, json=changed)
        assert other.status_code == 409

    async def test_a_passed_without_a_score_is_not_judged(self, quiz: AU) -> None:
        """cmi5 9.6.3.2: the masteryscore extension goes with a score judged against it; a
        passed without a score needs none (CATAPULT 001 sends one)."""
        statement = quiz.statement("passed", {"success": True, "duration": "PT1S"})
        del statement["context"]["extensions"][rules.MASTERY_SCORE]
        assert (await quiz.post(statement)).status_code == 200

    async def test_order_within_a_session(self, app: FastAPI, lms: httpx.AsyncClient) -> None:
        """cmi5 9.3: initialized first and once, after the preferences were read (11);
        allowed statements only between initialized and terminated (7.1.3); nothing after
        terminated (9.3.8)."""
        au = AU(app, await launch(lms, await register(lms), VIDEO))
        token = (await au.fetch())["auth-token"]
        au.client = client_for(app, f"Basic {token}")
        au.launch_data = {
            "contextTemplate": {
                "contextActivities": {"grouping": [{"id": VIDEO}]},
                "extensions": {rules.SESSION_ID: au.launch["sessionId"]},
            }
        }
        early = await au.send("initialized")
        assert early.status_code == 403
        assert "cmi5LearnerPreferences" in early.json()["error"]["message"]
        assert (await au.get_preferences()).status_code == 200
        experienced = au.statement("http://adlnet.gov/expapi/verbs/experienced", defined=False)
        assert (await au.post(experienced)).status_code == 403
        assert (await au.send("completed")).status_code == 403
        assert (await au.send("initialized")).status_code == 200
        assert (await au.send("initialized")).status_code == 403
        assert (await au.post(experienced)).status_code == 200  # cmi5 allowed
        assert (await au.send("terminated")).status_code == 200
        after = await au.post(
            au.statement("http://adlnet.gov/expapi/verbs/experienced", defined=False)
        )
        assert after.status_code in (401, 403)
        assert verbs(await statements_of(lms, au.registration)) == [
            "launched",
            "initialized",
            "http://adlnet.gov/expapi/verbs/experienced",
            "terminated",
        ]
        await au.close()

    async def test_browse_and_review_record_no_outcome(
        self, app: FastAPI, lms: httpx.AsyncClient
    ) -> None:
        """cmi5 10.2.2 (CATAPULT 006)."""
        registration = await register(lms)
        for mode in ("Browse", "Review"):
            au = AU(app, await launch(lms, registration, QUIZ, launchMode=mode))
            await au.start()
            assert au.launch_data["launchMode"] == mode
            for verb in ("completed", "passed", "failed"):
                refused = await au.send(verb)
                assert refused.status_code == 403
                assert "10.2.2" in refused.json()["error"]["message"]
            assert (await au.send("terminated")).status_code == 200
            await au.close()
        status = (await lms.get(f"/cmi5/registrations/{registration}")).json()
        assert status["course"]["children"][1]["children"][1]["passed"] is False

    async def test_no_failed_after_passed_in_the_registration(
        self, app: FastAPI, lms: httpx.AsyncClient
    ) -> None:
        """cmi5 9.3 (CATAPULT 007)."""
        registration = await register(lms)
        first = await started(app, lms, registration, QUIZ)
        assert (await first.send("passed")).status_code == 200
        assert (await first.send("terminated")).status_code == 200
        second = await started(app, lms, registration, QUIZ)
        for verb in ("failed", "passed"):
            assert (await second.send(verb)).status_code == 403
        await first.close()
        await second.close()

    async def test_other_credentials_get_plain_xapi(self, lms: httpx.AsyncClient) -> None:
        """The cmi5 rules bind session credentials only: an ordinary client may store a
        statement with the cmi5 category and no timestamp."""
        statement = {
            "actor": {"mbox": "mailto:a@example.org"},
            "verb": {"id": rules.VERBS["passed"]},
            "object": {"id": "https://example.org/a"},
            "context": {"contextActivities": {"category": [{"id": rules.CATEGORY}]}},
        }
        assert (await lms.post("/xapi/statements", json=statement)).status_code == 200


class TestDocuments:
    """cmi5 10, 11: what a session's credential may do with documents."""

    async def test_launch_data_is_read_only_and_documents_are_the_learners(
        self, app: FastAPI, lms: httpx.AsyncClient
    ) -> None:
        au = await started(app, lms, await register(lms), VIDEO)
        assert au.client is not None
        agent = json.dumps(au.actor)
        state = {"agent": agent, "activityId": au.activity_id, "registration": au.registration}
        path = f"{au.endpoint}/activities/state"
        launch_data = {**state, "stateId": "LMS.LaunchData"}
        assert (await au.client.put(path, params=launch_data, json={})).status_code == 403
        assert (await au.client.delete(path, params=launch_data)).status_code == 403
        own = {**state, "stateId": "bookmark"}
        assert (await au.client.put(path, params=own, json={"page": 3})).status_code == 204
        other = {
            **own,
            "agent": json.dumps({"account": {"homePage": "https://x.org", "name": "x"}}),
        }
        assert (await au.client.get(path, params=other)).status_code == 403
        other_registration = {**own, "registration": str(uuid.uuid4())}
        assert (await au.client.get(path, params=other_registration)).status_code == 403
        preferences = {"agent": agent, "profileId": "cmi5LearnerPreferences"}
        written = await au.client.put(
            f"{au.endpoint}/agents/profile", params=preferences, json={}, headers={"If-Match": "*"}
        )
        assert written.status_code == 403
        await au.close()


class TestAbandonAndWaive:
    async def test_a_new_launch_abandons_the_open_session(
        self, app: FastAPI, lms: httpx.AsyncClient
    ) -> None:
        """cmi5 9.3.6 (CATAPULT 008): one abandoned, with a duration; the old session then
        accepts nothing."""
        registration = await register(lms)
        first = await started(app, lms, registration, VIDEO)
        await started(app, lms, registration, QUIZ)
        found = await statements_of(lms, registration)
        assert verbs(found) == ["launched", "initialized", "abandoned", "launched", "initialized"]
        abandoned = found[2]
        assert abandoned["context"]["extensions"][rules.SESSION_ID] == first.launch["sessionId"]
        assert abandoned["result"]["duration"].startswith("PT")
        assert abandoned["context"]["contextActivities"]["grouping"] == [{"id": VIDEO}]
        late = await first.send("completed")
        assert late.status_code in (401, 403)
        await first.close()

    async def test_the_lms_abandons_a_session(self, app: FastAPI, lms: httpx.AsyncClient) -> None:
        registration = await register(lms)
        au = await started(app, lms, registration, VIDEO)
        path = f"/cmi5/sessions/{au.launch['sessionId']}/abandon"
        assert (await lms.post(path)).status_code == 204
        assert (await lms.post(path)).status_code == 400
        assert verbs(await statements_of(lms, registration))[-1] == "abandoned"
        assert (await au.send("terminated")).status_code in (401, 403)
        await au.close()

    async def test_waiving_satisfies(self, app: FastAPI, lms: httpx.AsyncClient) -> None:
        """cmi5 9.3.7 (CATAPULT 009): waived with success, completion, a reason and the
        moveon category under a session id of its own, which satisfied shares."""
        registration = await register(lms)
        quiz = await started(app, lms, registration, QUIZ)
        assert (await quiz.send("passed")).status_code == 200
        path = f"/cmi5/registrations/{registration}/waive"
        bad = await lms.post(path, json={"au": VIDEO, "reason": "Because"})
        assert bad.status_code == 400
        status = await lms.post(path, json={"au": VIDEO, "reason": "Tested Out"})
        assert status.status_code == 200
        video = status.json()["course"]["children"][1]["children"][0]
        assert (video["waived"], video["waiveReason"], video["satisfied"]) == (
            True,
            "Tested Out",
            True,
        )
        found = await statements_of(lms, registration)
        waived, satisfied = found[-2:]
        assert verbs([waived, satisfied]) == ["waived", "satisfied"]
        assert waived["result"]["success"] is True
        assert waived["result"]["completion"] is True
        assert waived["result"]["extensions"] == {rules.REASON: "Tested Out"}
        assert {"id": rules.MOVEON_CATEGORY} in waived["context"]["contextActivities"]["category"]
        session_id = waived["context"]["extensions"][rules.SESSION_ID]
        assert session_id != quiz.launch["sessionId"]
        assert satisfied["context"]["extensions"][rules.SESSION_ID] == session_id
        assert (
            await lms.post(path, json={"au": VIDEO, "reason": "Administrative"})
        ).status_code == 400
        await quiz.close()
