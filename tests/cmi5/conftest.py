"""An LMS client, the sample course, and an AU that plays a session as real AU libraries do."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from auth.models import Role
from cmi5 import rules
from cmi5.package import sample_package
from tests.conftest import client_for, make_credential

COURSE = "https://lrs.example.org/courses/workplace-safety"
POLICY = f"{COURSE}/policy"
FIRE = f"{COURSE}/fire"
VIDEO = f"{FIRE}/video"
QUIZ = f"{FIRE}/quiz"
FIRST_AID = f"{COURSE}/first-aid"
PRACTICE = f"{FIRST_AID}/practice"


def learner(name: str | None = None) -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": "https://hr.example.org", "name": name or uuid.uuid4().hex},
    }


@pytest.fixture
async def lms(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An LMS back end's credential (role lms: cmi5/launch, state, profile, statements)."""
    authorization, _ = await make_credential(app, [], role=Role.LMS)
    async with client_for(app, authorization) as client:
        yield client


@pytest.fixture
async def course(lms: httpx.AsyncClient) -> dict[str, Any]:
    response = await lms.post(
        "/cmi5/courses", content=sample_package(), headers={"Content-Type": "application/zip"}
    )
    assert response.status_code == 201, response.text
    described: dict[str, Any] = response.json()
    return described


async def register(lms: httpx.AsyncClient, actor: dict[str, Any] | None = None) -> str:
    response = await lms.post(
        "/cmi5/registrations", json={"course": COURSE, "actor": actor or learner()}
    )
    assert response.status_code == 201, response.text
    registration: str = response.json()["id"]
    return registration


async def statements_of(lms: httpx.AsyncClient, registration: str) -> list[dict[str, Any]]:
    """What CATAPULT reads: the registration's statements in stored order."""
    response = await lms.get(
        "/xapi/statements",
        params={"registration": registration, "ascending": "true", "limit": "100"},
    )
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["statements"]
    return found


def verbs(statements: list[dict[str, Any]]) -> list[str]:
    return [rules.VERB_NAMES.get(s["verb"]["id"], s["verb"]["id"]) for s in statements]


class AU:
    """An AU in the browser: reads its launch URL, fetches its token, then talks xAPI."""

    def __init__(self, app: FastAPI, launch: dict[str, Any]) -> None:
        self.app = app
        self.launch = launch
        query = dict(parse_qsl(urlsplit(launch["url"]).query))
        self.query = query
        self.endpoint = urlsplit(query["endpoint"]).path
        self.fetch_path = urlsplit(query["fetch"]).path
        self.actor = json.loads(query["actor"])
        self.registration = query["registration"]
        self.activity_id = query["activityId"]
        self.client: httpx.AsyncClient | None = None
        self.launch_data: dict[str, Any] = {}

    async def fetch(self) -> dict[str, Any]:
        async with client_for(self.app, None) as anonymous:
            response = await anonymous.post(self.fetch_path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        answer: dict[str, Any] = response.json()
        return answer

    async def connect(self) -> None:
        """Fetch, then LMS.LaunchData and the learner's preferences, as cmi5 libraries do."""
        token = (await self.fetch())["auth-token"]
        self.client = client_for(self.app, f"Basic {token}")
        state = await self.client.get(
            f"{self.endpoint}/activities/state",
            params={
                "agent": json.dumps(self.actor),
                "activityId": self.activity_id,
                "registration": self.registration,
                "stateId": "LMS.LaunchData",
            },
        )
        assert state.status_code == 200, state.text
        self.launch_data = state.json()
        preferences = await self.get_preferences()
        assert preferences.status_code == 200

    async def get_preferences(self) -> httpx.Response:
        assert self.client is not None
        return await self.client.get(
            f"{self.endpoint}/agents/profile",
            params={"agent": json.dumps(self.actor), "profileId": "cmi5LearnerPreferences"},
        )

    async def start(self) -> None:
        await self.connect()
        response = await self.send("initialized")
        assert response.status_code == 200, response.text

    def statement(
        self,
        verb: str,
        result: dict[str, Any] | None = None,
        *,
        defined: bool = True,
        moveon: bool | None = None,
    ) -> dict[str, Any]:
        context = json.loads(json.dumps(self.launch_data["contextTemplate"]))
        context["registration"] = self.registration
        if defined:
            categories = [{"id": rules.CATEGORY}]
            if moveon if moveon is not None else verb in ("completed", "passed", "failed"):
                categories.append({"id": rules.MOVEON_CATEGORY})
            context["contextActivities"]["category"] = categories
        if verb in ("passed", "failed") and "masteryScore" in self.launch_data:
            context["extensions"][rules.MASTERY_SCORE] = self.launch_data["masteryScore"]
        statement: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "timestamp": datetime.now(UTC).isoformat(),
            "actor": copy.deepcopy(self.actor),
            "verb": {"id": rules.VERBS.get(verb, verb)},
            "object": {"id": self.activity_id},
            "context": context,
        }
        outcome = {
            "completed": {"completion": True, "duration": "PT1M"},
            "passed": {"success": True, "duration": "PT1M", "score": {"scaled": 0.9}},
            "failed": {"success": False, "duration": "PT1M", "score": {"scaled": 0.1}},
            "terminated": {"duration": "PT2M"},
        }.get(verb)
        if result is not None or outcome is not None:
            statement["result"] = result if result is not None else outcome
        return statement

    async def post(self, body: Any) -> httpx.Response:
        assert self.client is not None
        return await self.client.post(f"{self.endpoint}/statements", json=body)

    async def send(self, verb: str, result: dict[str, Any] | None = None) -> httpx.Response:
        return await self.post(self.statement(verb, result))

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()


async def launch(
    lms: httpx.AsyncClient, registration: str, au: str, **options: Any
) -> dict[str, Any]:
    response = await lms.post(
        f"/cmi5/registrations/{registration}/launch", json={"au": au, **options}
    )
    assert response.status_code == 200, response.text
    launched: dict[str, Any] = response.json()
    return launched


async def started(app: FastAPI, lms: httpx.AsyncClient, registration: str, au: str) -> AU:
    player = AU(app, await launch(lms, registration, au))
    await player.start()
    return player
