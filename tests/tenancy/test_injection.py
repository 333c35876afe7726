"""SQL injection is impossible by construction (every value reaches the database as a bound
parameter); this checks it from outside: values built to break out of a SQL string or
comment reach the database as plain values, answered 4xx or as a search for that value,
and never show a reader another tenant's records."""

from __future__ import annotations

import json

import pytest

from tests.factories import ACTIVITY
from tests.tenancy.conftest import Group, state_params

PAYLOADS = (
    "' OR '1'='1",
    "x'; DELETE FROM statements; --",
    '" OR ""="',
    "%' OR tenant_id <> 0 --",
    "1) UNION SELECT payload FROM statements --",
)


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_injected_values_find_nothing_of_other_tenants(group: Group, payload: str) -> None:
    """Every statement query parameter and document key, given a SQL fragment."""
    own = group.statement_ids["sub-b"]
    queries = [
        {"verb": f"http://example.com/{payload}"},
        {"activity": f"{ACTIVITY}{payload}"},
        {"agent": json.dumps({"mbox": f"mailto:{payload}@example.com"})},
        {"agent": json.dumps({"account": {"homePage": "http://example.com", "name": payload}})},
        {"registration": payload},
        {"since": payload},
        {"statementId": payload},
        {"more": payload},
    ]
    async with group.client("lms@sub-b") as client:
        for params in queries:
            answer = await client.get("/xapi/statements", params=params)
            assert answer.status_code in (200, 400), (params, answer.text)
            if answer.status_code == 200:
                found = {statement["id"] for statement in answer.json()["statements"]}
                assert found <= {own}, params
        document = await client.get("/xapi/activities/state", params=state_params(stateId=payload))
        assert document.status_code == 404
    async with group.client("lms@group") as client:
        # The fragment that tried to delete deleted nothing.
        kept = {"statementId": group.statement_ids["group"]}
        assert (await client.get("/xapi/statements", params=kept)).status_code == 200
