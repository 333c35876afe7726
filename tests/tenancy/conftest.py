"""A group company for the tenancy tests, built through the admin API:

    group
    ├── sub-a
    │   └── dept-a1
    └── sub-b

Every tenant holds one statement, one State document and one Activity definition of the
same learner, verb, Activity, registration and document keys, so that every query a reader
could make matches something in every tenant and only the tenant filter tells them apart."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from auth.models import Role
from tests.conftest import basic, client_for, make_credential
from tests.factories import ACTIVITY, activity, agent, statement

TENANTS = ("group", "sub-a", "dept-a1", "sub-b")
PARENTS = {"sub-a": "group", "dept-a1": "sub-a", "sub-b": "group"}
REGISTRATION = "0d1e6b4c-7a57-4e39-9fd0-2f0a3c1c6f11"
STATE_ID = "bookmark"
LEARNER = agent("pat")


@dataclass
class Group:
    app: FastAPI
    names: dict[str, str]  # short name -> unique tenant name
    admin: str  # Authorization of the group's admin
    statement_ids: dict[str, str] = field(default_factory=dict)  # short tenant name -> id
    authorizations: dict[str, str] = field(default_factory=dict)  # "role@tenant" -> header

    def client(self, who: str, version: str = "2.0.0") -> httpx.AsyncClient:
        return client_for(self.app, self.authorizations[who], version)

    def admin_client(self) -> httpx.AsyncClient:
        return client_for(self.app, self.admin)


async def new_credential(
    client: httpx.AsyncClient, tenant: str, **fields: Any
) -> tuple[str, dict[str, Any]]:
    response = await client.post("/admin/credentials", json={"tenant": tenant, **fields})
    assert response.status_code == 201, response.text
    made = response.json()
    return basic(made["key"], made["secret"]), made


def state_params(**extra: str) -> dict[str, str]:
    return {
        "activityId": ACTIVITY,
        "agent": '{"mbox": "mailto:pat@example.com"}',
        "stateId": STATE_ID,
        **extra,
    }


@pytest.fixture
async def group(app: FastAPI) -> Group:
    suffix = uuid.uuid4().hex[:8]
    names = {short: f"{short}-{suffix}" for short in TENANTS}
    admin, _ = await make_credential(app, [], names["group"], role=Role.ADMIN)
    built = Group(app, names, admin)
    async with built.admin_client() as client:
        for short, parent in PARENTS.items():
            response = await client.post(
                "/admin/tenants", json={"name": names[short], "parent": names[parent]}
            )
            assert response.status_code == 201, response.text
        for short in TENANTS:
            built.authorizations[f"lms@{short}"], _ = await new_credential(
                client, names[short], role="lms"
            )
        for who in ("analyst@group", "analyst@sub-a", "auditor@sub-a", "content@sub-b"):
            role, short = who.split("@")
            built.authorizations[who], _ = await new_credential(client, names[short], role=role)
    for short in TENANTS:
        async with built.client(f"lms@{short}") as writer:
            sent = statement(
                actor=LEARNER,
                object=activity(name={"en-US": f"course of {short}"}),
                context={"registration": REGISTRATION, "instructor": agent("coach")},
            )
            response = await writer.post("/xapi/statements", json=sent)
            assert response.status_code == 200, response.text
            built.statement_ids[short] = response.json()[0]
            response = await writer.put(
                "/xapi/activities/state", params=state_params(), content=short.encode()
            )
            assert response.status_code == 204, response.text
    return built
