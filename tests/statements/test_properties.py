"""Properties over generated statements, on both back ends and both versions: every valid
statement comes back exactly as sent (plus what the LRS sets), and each way of breaking one
is a 400 that names the broken property."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.statements.strategies import JSON, statements

# The app and client fixtures are made once per test, not per example: each example writes
# statements of its own.
EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@EXAMPLES
@given(sent=statements())
async def test_a_valid_statement_round_trips_exactly(client: httpx.AsyncClient, sent: JSON) -> None:
    """Communication 2.1.2/2.1.4 with Data 2.4: the stored statement (format=exact) is the
    statement sent, with only the LRS-set properties added (Data 2.4.7-2.4.10): id when it
    had none, stored, timestamp when it had none, authority and version."""
    if "id" in sent:  # a fresh one: the database outlives the examples
        sent = {**sent, "id": str(uuid.uuid4())}
    posted = await client.post("/xapi/statements", json=sent)
    assert posted.status_code == 200, posted.text
    [statement_id] = posted.json()
    got = (await client.get("/xapi/statements", params={"statementId": statement_id})).json()
    expected = {
        "id": statement_id,
        "timestamp": got["stored"],
        **sent,
        "stored": got["stored"],
        "authority": got["authority"],
        "version": got["version"],
    }
    assert got == expected


def _remove(*path: str) -> Callable[[JSON], JSON]:
    def mutate(statement: JSON) -> JSON:
        broken = copy.deepcopy(statement)
        target = broken
        for name in path[:-1]:
            target = target[name]
        del target[path[-1]]
        return broken

    return mutate


def _set(value: Any, *path: str) -> Callable[[JSON], JSON]:
    def mutate(statement: JSON) -> JSON:
        broken = copy.deepcopy(statement)
        target = broken
        for name in path[:-1]:
            target = target.setdefault(name, {})
        target[path[-1]] = value
        return broken

    return mutate


def _actor_ifi(value: Any, name: str) -> Callable[[JSON], JSON]:
    def mutate(statement: JSON) -> JSON:
        broken = copy.deepcopy(statement)
        broken["actor"] = {"objectType": "Agent", name: value}
        return broken

    return mutate


# (mutation, the field the 400 must name)
MUTATIONS = [
    (_remove("actor"), "statement.actor"),
    (_remove("verb"), "statement.verb"),
    (_remove("object"), "statement.object"),
    (_set(42, "verb", "id"), "statement.verb.id"),
    (_set("not an iri", "verb", "id"), "statement.verb.id"),
    (_set({"not a tag!": "x"}, "verb", "display"), "statement.verb.display"),
    (_actor_ifi("someone@example.com", "mbox"), "statement.actor.mbox"),
    (_actor_ifi("zz", "mbox_sha1sum"), "statement.actor.mbox_sha1sum"),
    (_set("yesterday", "timestamp"), "statement.timestamp"),
    (_set("not-a-uuid", "id"), "statement.id"),
    (_set("not-a-uuid", "context", "registration"), "statement.context.registration"),
    (_set(2, "result", "score", "scaled"), "statement.result.score.scaled"),
    (_set("PT1X", "result", "duration"), "statement.result.duration"),
    (_set("yes", "result", "success"), "statement.result.success"),
    (_set({"not an iri": 1}, "result", "extensions"), "statement.result.extensions"),
    (_set(True, "unknownProperty"), "statement.unknownProperty"),
]


@EXAMPLES
@given(sent=statements(), case=st.sampled_from(MUTATIONS))
async def test_a_broken_statement_is_a_400_naming_the_property(
    client: httpx.AsyncClient, sent: JSON, case: tuple[Callable[[JSON], JSON], str]
) -> None:
    """Data 2.2 / Communication 3.2.s3.b9: an invalid statement is rejected with 400, the
    error names where the rule was broken, and nothing is stored."""
    mutate, field = case
    broken = mutate({"id": str(uuid.uuid4()), **sent})
    answer = await client.post("/xapi/statements", json=broken)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["field"] == field, error
    if broken["id"] != "not-a-uuid":
        lookup = await client.get("/xapi/statements", params={"statementId": broken["id"]})
        assert lookup.status_code == 404
