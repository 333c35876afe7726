"""SQL injection is impossible by construction (every value reaches the database as a bound
parameter); this checks it from outside. Values built to break out of a SQL string or
comment are stored in every tenant as learner names and document ids; searching for them
finds exactly the reader's own record, and the fragment that tries to delete deletes
nothing."""

from __future__ import annotations

import json

import pytest

from tests.factories import statement
from tests.tenancy.conftest import TENANTS, Group, state_params

PAYLOADS = (
    "' OR '1'='1",
    "x'; DELETE FROM statements; --",
    '" OR ""="',
    "%' OR tenant_id <> 0 --",
    "1) UNION SELECT payload FROM statements --",
)


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_injected_values_are_plain_values(group: Group, payload: str) -> None:
    learner = {"account": {"homePage": "http://example.com/sql", "name": payload}}
    stored: dict[str, str] = {}
    for short in TENANTS:
        async with group.client(f"lms@{short}") as client:
            answer = await client.post("/xapi/statements", json=statement(actor=learner))
            assert answer.status_code == 200, answer.text
            stored[short] = answer.json()[0]
            document = await client.put(
                "/xapi/activities/state",
                params=state_params(stateId=payload),
                content=short.encode(),
            )
            assert document.status_code == 204, document.text
    async with group.client("lms@sub-b") as client:
        found = await client.get("/xapi/statements", params={"agent": json.dumps(learner)})
        assert [s["id"] for s in found.json()["statements"]] == [stored["sub-b"]]
        document = await client.get("/xapi/activities/state", params=state_params(stateId=payload))
        assert document.content == b"sub-b"
        for params in ({"registration": payload}, {"since": payload}, {"more": payload}):
            assert (await client.get("/xapi/statements", params=params)).status_code == 400
    async with group.client("lms@group") as client:
        kept = {"statementId": stored["group"]}
        assert (await client.get("/xapi/statements", params=kept)).status_code == 200
