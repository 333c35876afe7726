"""The Statement resource over HTTP, on both back ends and both xAPI versions."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from auth.models import Scope
from lrs.settings import Settings
from statements import service, store
from statements.tables import statements
from tests.conftest import client_for, id_row, make_credential, principal_of, running_app
from tests.factories import ACTIVITY, VERB, activity, agent, statement, voiding, with_id


async def post(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await client.post("/xapi/statements", json=body)


async def get_one(client: httpx.AsyncClient, statement_id: str, **params: str) -> httpx.Response:
    return await client.get("/xapi/statements", params={"statementId": statement_id, **params})


async def query(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/xapi/statements", params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def ids_of(result: dict[str, Any]) -> list[str]:
    return [s["id"] for s in result["statements"]]


class TestPut:
    async def test_put_stores_and_answers_204(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.1: PUT with statementId stores the statement, 204 No Content."""
        body = statement()
        statement_id = str(uuid.uuid4())
        response = await client.put(
            "/xapi/statements", params={"statementId": statement_id}, json=body
        )
        assert response.status_code == 204
        stored = (await get_one(client, statement_id)).json()
        assert stored["id"] == statement_id
        assert stored["actor"] == body["actor"]

    async def test_put_without_statement_id_is_400(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.1.s1.table1.row1: statementId is required on PUT."""
        response = await client.put("/xapi/statements", json=statement())
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "statementId"

    async def test_body_id_must_match_parameter(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.1.s3.b3: a body id differing from statementId is a 400."""
        response = await client.put(
            "/xapi/statements", params={"statementId": str(uuid.uuid4())}, json=with_id()
        )
        assert response.status_code == 400
        assert "differs" in response.json()["error"]["message"]

    async def test_identical_resend_is_204_and_different_is_409(
        self, client: httpx.AsyncClient
    ) -> None:
        """Communication 2.1.1.s2.b2-b3: same id and content changes nothing; other content 409."""
        body = with_id()
        params = {"statementId": body["id"]}
        assert (await client.put("/xapi/statements", params=params, json=body)).status_code == 204
        assert (await client.put("/xapi/statements", params=params, json=body)).status_code == 204
        changed = {**body, "verb": {"id": "http://example.com/verbs/other"}}
        conflict = await client.put("/xapi/statements", params=params, json=changed)
        assert conflict.status_code == 409
        assert (await get_one(client, body["id"])).json()["verb"]["id"] == VERB


class TestPost:
    async def test_post_returns_ids_in_order(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.2.s1: POST answers the ids in request order, assigning missing ones."""
        first, second = with_id(), statement()
        response = await post(client, [first, second])
        assert response.status_code == 200
        ids = response.json()
        assert ids[0] == first["id"]
        assert uuid.UUID(ids[1])

    async def test_single_statement_post(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.2: a single statement object is accepted too."""
        response = await post(client, statement())
        assert response.status_code == 200
        assert len(response.json()) == 1

    async def test_nul_is_refused_on_every_back_end(self, client: httpx.AsyncClient) -> None:
        """A string holding U+0000 cannot be stored as PostgreSQL text, so neither back end
        stores it: a 400 that says where it is, not one back end storing what another
        refuses."""
        body = statement(result={"response": "before\u0000after"})
        response = await post(client, body)
        assert response.status_code == 400
        assert ".result.response" in response.json()["error"]["message"]

    async def test_an_id_its_statement_left_behind_is_a_409(self, app: FastAPI) -> None:
        """Communication 2.1.2.s2.b5: an id stays taken by an id row that outlived its
        statement (one kept later than its statement's month, which an earlier version's
        retention dropped): a POST of it again is a 409 naming `id`, not a 500, alone
        (written in the request's transaction) and in a batch."""
        authorization, _ = await make_credential(app, [Scope.ALL])
        principal = await principal_of(app, authorization)
        taken = with_id()
        async with app.state.sessionmaker() as session:
            await session.execute(id_row(principal.tenant_id, taken))
            await session.commit()
        async with client_for(app, authorization) as client:
            for body in (taken, [with_id(), taken]):
                response = await post(client, body)
                assert response.status_code == 409, response.text
                assert response.json()["error"]["field"] == "id"
            assert (await query(client))["statements"] == []

    async def test_a_batch_longer_than_one_read_is_compared_whole(self, settings: Settings) -> None:
        """Communication 2.1.2.s2.b2-b3, with LRS_MAX_BATCH_STATEMENTS above the 1,000 ids the
        stored statements are read by at a time: sent again, the batch stores nothing new;
        with its last statement changed, a 409 naming that one."""
        async with running_app(settings.model_copy(update={"max_batch_statements": 1200})) as app:
            authorization, _ = await make_credential(app, [Scope.ALL])
            async with client_for(app, authorization) as client:
                batch = [with_id() for _ in range(1200)]
                first = await post(client, batch)
                assert first.status_code == 200, first.text
                again = await post(client, batch)
                assert again.json() == first.json() == [s["id"] for s in batch]
                other = {**batch[-1], "verb": {"id": "http://example.com/verbs/other"}}
                conflict = await post(client, [*batch[:-1], other])
                assert conflict.status_code == 409
                assert batch[-1]["id"] in conflict.json()["error"]["message"]
                assert (await get_one(client, batch[-1]["id"])).json()["verb"]["id"] == VERB

    async def test_a_batch_of_300_runs_as_many_queries_as_one_of_2(
        self, settings: Settings
    ) -> None:
        """Communication 2.1.3 (a batch is one request, so one write): the queries a batch
        POST runs do not grow with its statements, each with its own agents, defined
        Activity and context. The learner models' poll is held off, so that only the
        request's own queries are counted; a single statement has a shorter write of its own."""
        held_off = settings.model_copy(update={"analytics_poll_seconds": 3600})
        async with running_app(held_off) as app:
            authorization, _ = await make_credential(app, [Scope.ALL])
            executed: list[str] = []

            def count(*args: Any) -> None:
                executed.append(args[2])

            def batch(size: int) -> list[dict[str, Any]]:
                tag = uuid.uuid4().hex
                return [
                    with_id(
                        actor=agent(f"{tag}-{i}"),
                        object=activity(f"{ACTIVITY}/{tag}/{i}", name={"en-US": f"item {i}"}),
                        context={
                            "registration": str(uuid.uuid4()),
                            "instructor": agent(f"{tag}-teacher-{i % 7}"),
                            "contextActivities": {"parent": [activity(f"{ACTIVITY}/{i % 5}")]},
                        },
                        result={"score": {"scaled": 0.5}, "success": True},
                    )
                    for i in range(size)
                ]

            async with client_for(app, authorization) as client:
                await post(client, batch(2))  # the credential verified and cached
                queries = []
                for size in (2, 300):
                    engine = app.state.engine.sync_engine
                    event.listen(engine, "before_cursor_execute", count)
                    try:
                        response = await post(client, batch(size))
                    finally:
                        event.remove(engine, "before_cursor_execute", count)
                    assert response.status_code == 200, response.text
                    queries.append(executed.copy())
                    executed.clear()
        assert len(queries[1]) == len(queries[0]), queries

    async def test_one_bad_statement_rejects_whole_batch(self, client: httpx.AsyncClient) -> None:
        """Communication 3.2.s3.b9: one invalid statement rejects the batch; nothing is stored."""
        batch = [with_id() for _ in range(99)] + [statement(actor={"name": "no ifi"})]
        response = await post(client, batch)
        assert response.status_code == 400
        assert response.json()["error"]["field"].startswith("statements[99].actor")
        assert (await query(client))["statements"] == []

    async def test_conflict_in_batch_stores_nothing(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.2.s2.b4-b5: a batch with a conflicting id is rejected whole."""
        existing = with_id()
        await post(client, existing)
        fresh = with_id()
        conflicting = {**existing, "verb": {"id": "http://example.com/verbs/other"}}
        response = await post(client, [fresh, conflicting])
        assert response.status_code == 409
        assert (await get_one(client, fresh["id"])).status_code == 404

    async def test_duplicate_ids_in_batch_is_400(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.2.s2.b6: the same id twice in one batch is a 400."""
        body = with_id()
        response = await post(client, [body, body])
        assert response.status_code == 400

    async def test_lrs_sets_stored_timestamp_authority_version(
        self, client: httpx.AsyncClient, xapi_version: str
    ) -> None:
        """Data 2.4.7-2.4.10: stored always set, timestamp defaults to stored, authority from
        the credential (overwriting a sent one), version kept or defaulted."""
        sent = statement(authority=agent("impostor"))
        statement_id = (await post(client, sent)).json()[0]
        stored = (await get_one(client, statement_id)).json()
        assert stored["timestamp"] == stored["stored"]
        assert stored["authority"]["account"]["name"].startswith("key-")
        assert stored["version"] == ("1.0.0" if xapi_version == "1.0.3" else "2.0.0")

    async def test_numbers_round_trip_exactly(self, client: httpx.AsyncClient) -> None:
        """Data 2.2.s2 (JSON): integers past 64 bits, floats and exponents come back as sent,
        as stored and when read back to be rendered (canonical)."""
        extensions = {
            "http://example.com/big": 2**70,
            "http://example.com/int64-edge": -(2**63) - 1,
            "http://example.com/uint64": 2**64 - 1,
            "http://example.com/float": 0.1,
            "http://example.com/exp": 1e300,
            "http://example.com/text": "ü\u2028",
        }
        body = with_id(result={"extensions": extensions})
        await post(client, body)
        for format in ("exact", "canonical"):
            stored = (await get_one(client, body["id"], format=format)).json()
            assert stored["result"]["extensions"] == extensions

    async def test_json_error_names_the_field(self, client: httpx.AsyncClient) -> None:
        """Data 2.2.s4: invalid values are a 400 whose body names the property."""
        response = await post(client, statement(verb={"id": "not an iri"}))
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "statement.verb.id"

    async def test_malformed_json_is_400(self, client: httpx.AsyncClient) -> None:
        """Communication 3.2.s2.b1: malformed JSON is a 400, never a 500."""
        response = await client.post(
            "/xapi/statements", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400

    async def test_form_data_content_type_is_400(self, client: httpx.AsyncClient) -> None:
        """Communication 1.5: statements come as application/json or multipart/mixed only."""
        response = await client.post(
            "/xapi/statements",
            content=json.dumps(statement()).encode(),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert response.status_code == 400


class TestGetSingle:
    async def test_unknown_statement_is_404(self, client: httpx.AsyncClient) -> None:
        """Communication 3.2.s2.b4: an unknown single statement is a 404."""
        response = await get_one(client, str(uuid.uuid4()))
        assert response.status_code == 404

    async def test_statement_id_with_other_filters_is_400(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3.s2.b2: statementId with anything but attachments/format is a 400."""
        response = await get_one(client, str(uuid.uuid4()), verb=VERB)
        assert response.status_code == 400

    async def test_last_modified_is_stored(self, client: httpx.AsyncClient) -> None:
        """Communication 2.2.s6 / xAPI 2.0: a single GET carries Last-Modified = stored."""
        statement_id = (await post(client, statement())).json()[0]
        response = await get_one(client, statement_id)
        stored = datetime.fromisoformat(response.json()["stored"])
        last_modified = parsedate_to_datetime(response.headers["Last-Modified"])
        assert abs(last_modified - stored) < timedelta(seconds=1)

    async def test_head_has_headers_and_no_body(self, client: httpx.AsyncClient) -> None:
        """Communication 1.1.s3.b1: HEAD answers like GET without a body."""
        statement_id = (await post(client, statement())).json()[0]
        response = await client.head("/xapi/statements", params={"statementId": statement_id})
        assert response.status_code == 200
        assert response.content == b""
        assert "X-Experience-API-Consistent-Through" in response.headers


class TestVoiding:
    async def test_voided_statement_only_by_voided_statement_id(
        self, client: httpx.AsyncClient
    ) -> None:
        """Communication 2.1.4.s1.b1: a voided statement is only returned by voidedStatementId."""
        target = with_id()
        await post(client, target)
        voiding_id = (await post(client, voiding(target["id"]))).json()[0]
        assert (await get_one(client, target["id"])).status_code == 404
        by_voided = await client.get("/xapi/statements", params={"voidedStatementId": target["id"]})
        assert by_voided.status_code == 200
        assert ids_of(await query(client)) == [voiding_id]

    async def test_voiding_statement_cannot_be_voided(self, client: httpx.AsyncClient) -> None:
        """Data 2.3.2.s2.b3: voiding a voiding statement stores it but changes nothing."""
        target = with_id()
        await post(client, target)
        first_voiding = (await post(client, voiding(target["id"]))).json()[0]
        await post(client, voiding(first_voiding))
        assert (await get_one(client, first_voiding)).status_code == 200

    async def test_voiding_before_target_arrives(self, client: httpx.AsyncClient) -> None:
        """Data 2.3.2.s2.b5: an unknown target is accepted; it is voided once it is stored."""
        target = with_id()
        assert (await post(client, voiding(target["id"]))).status_code == 200
        await post(client, target)
        assert (await get_one(client, target["id"])).status_code == 404

    async def test_early_voiding_goes_with_its_voiding_statement(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Data 2.3.2.s2.b3: only a stored voiding statement voids. Once retention (or
        erasure) deleted the voiding statement, its target arriving later is not voided."""
        target = with_id()
        assert (await post(client, voiding(target["id"]))).status_code == 200
        principal = await principal_of(app, client.headers["Authorization"])
        async with app.state.sessionmaker() as session:
            cutoff = datetime.now(UTC) + timedelta(seconds=1)
            assert (
                await service.delete_stored_before(
                    session, principal.tenant_id, cutoff, app.state.statement_hooks
                )
                == 1
            )
            await session.commit()
        await post(client, target)
        assert (await get_one(client, target["id"])).status_code == 200

    async def test_voiding_a_target_sent_again_in_its_batch(
        self, client: httpx.AsyncClient
    ) -> None:
        """Data 2.3.2.s2.b3: a batch that sends a stored statement again beside a new voiding
        statement for it voids the stored statement."""
        target = with_id()
        await post(client, target)
        assert (await post(client, [target, voiding(target["id"])])).status_code == 200
        assert (await get_one(client, target["id"])).status_code == 404

    async def test_a_deleted_target_sent_again_is_still_voided(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Data 2.3.2.s2.b3: when a voided statement is deleted (retention, erasure) while its
        voiding statement stays, the statement sent again is stored voided."""
        target = with_id()
        await post(client, target)
        await post(client, voiding(target["id"]))
        async with app.state.sessionmaker() as session:
            seq = await session.scalar(
                select(statements.c.seq).where(statements.c.statement_id == uuid.UUID(target["id"]))
            )
            assert seq is not None
            await store.delete_statements(session, [seq])
            await session.commit()
        assert (await post(client, target)).status_code == 200
        assert (await get_one(client, target["id"])).status_code == 404

    @pytest.mark.parametrize("voiding_first", [True, False])
    async def test_voiding_and_target_in_one_batch(
        self, client: httpx.AsyncClient, voiding_first: bool
    ) -> None:
        """Data 2.3.2: a target stored in the same batch as its voiding statement is voided,
        whichever comes first in the batch."""
        target = with_id()
        batch = (
            [voiding(target["id"]), target] if voiding_first else [target, voiding(target["id"])]
        )
        assert (await post(client, batch)).status_code == 200
        assert (await get_one(client, target["id"])).status_code == 404
        voided = await client.get("/xapi/statements", params={"voidedStatementId": target["id"]})
        assert voided.status_code == 200

    async def test_resent_voiding_statement_keeps_target_voided(
        self, client: httpx.AsyncClient
    ) -> None:
        """Communication 2.1.2.s2.b5: re-sending a stored voiding statement changes nothing."""
        target = with_id()
        await post(client, target)
        void = with_id(**voiding(target["id"]))
        await post(client, void)
        assert (await post(client, [void])).status_code == 200
        assert (await get_one(client, target["id"])).status_code == 404
        assert (await get_one(client, void["id"])).status_code == 200

    async def test_query_by_voided_targets_agent_returns_voiding(
        self, client: httpx.AsyncClient
    ) -> None:
        """Communication 2.1.4.s1.b2: statements targeting a voided statement still match."""
        target = with_id(actor=agent("voided-actor"))
        await post(client, target)
        voiding_id = (await post(client, voiding(target["id"]))).json()[0]
        result = await query(client, agent=json.dumps(agent("voided-actor")))
        assert ids_of(result) == [voiding_id]


class TestQuery:
    async def test_newest_first_and_ascending(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3: ordered by stored, newest first; ascending=true reverses."""
        ids = [(await post(client, statement())).json()[0] for _ in range(3)]
        assert ids_of(await query(client)) == ids[::-1]
        assert ids_of(await query(client, ascending="true")) == ids

    async def test_filters(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3 table 1: agent, verb, activity, registration match exactly."""
        registration = str(uuid.uuid4())
        wanted = with_id(
            actor=agent("alice"),
            verb={"id": "http://example.com/verbs/passed"},
            object=activity("http://example.com/a/quiz"),
            context={"registration": registration},
        )
        other = with_id()
        await post(client, [wanted, other])
        for params in (
            {"agent": json.dumps({"mbox": "mailto:alice@example.com"})},
            {"verb": "http://example.com/verbs/passed"},
            {"activity": "http://example.com/a/quiz"},
            {"registration": registration},
        ):
            assert ids_of(await query(client, **params)) == [wanted["id"]], params

    async def test_related_activities_and_agents(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3 table 1 rows 7-8: related_* widen activity and agent matching."""
        parent = "http://example.com/a/parent"
        body = with_id(
            context={
                "instructor": agent("teacher"),
                "contextActivities": {"parent": [activity(parent)]},
            }
        )
        await post(client, body)
        assert ids_of(await query(client, activity=parent)) == []
        assert ids_of(await query(client, activity=parent, related_activities="true")) == [
            body["id"]
        ]
        teacher = json.dumps({"mbox": "mailto:teacher@example.com"})
        assert ids_of(await query(client, agent=teacher)) == []
        assert ids_of(await query(client, agent=teacher, related_agents="true")) == [body["id"]]

    async def test_group_member_matches_agent(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3 table 1 row 3: agent matches Groups whose members have the IFI."""
        group = {"objectType": "Group", "member": [agent("member")]}
        body = with_id(actor=group)
        await post(client, body)
        result = await query(client, agent=json.dumps({"mbox": "mailto:member@example.com"}))
        assert ids_of(result) == [body["id"]]

    async def test_statement_ref_targets_match_filters(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3.s3: a statement targeting a matching statement matches too."""
        target = with_id(verb={"id": "http://example.com/verbs/special"})
        referring = with_id(object={"objectType": "StatementRef", "id": target["id"]})
        await post(client, [target, referring])
        result = await query(client, verb="http://example.com/verbs/special")
        assert ids_of(result) == [referring["id"], target["id"]]

    async def test_since_exclusive_until_inclusive(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3 table 1 rows 9-10: since is exclusive, until inclusive."""
        first = (await post(client, statement())).json()[0]
        stored = (await get_one(client, first)).json()["stored"]
        second = (await post(client, statement())).json()[0]
        assert ids_of(await query(client, since=stored)) == [second]
        assert ids_of(await query(client, until=stored)) == [first]

    async def test_more_pages_through_everything(self, client: httpx.AsyncClient) -> None:
        """Data 2.5: `more` is a relative IRL that pages through the whole result, no repeats."""
        posted = (await post(client, [statement() for _ in range(7)])).json()
        seen: list[str] = []
        result = await query(client, limit="3")
        while True:
            seen.extend(ids_of(result))
            if not result["more"]:
                break
            assert result["more"].startswith("/xapi/statements?")
            # Statements stored after the first page do not shift the pages that follow.
            await post(client, statement())
            response = await client.get(result["more"])
            assert response.status_code == 200
            result = response.json()
        assert sorted(seen) == sorted(posted)
        assert len(seen) == 7

    async def test_more_pages_give_the_window_as_one_page_does(
        self, client: httpx.AsyncClient
    ) -> None:
        """Communication 2.1.3: since (exclusive) and until (inclusive) bound every page of a
        `more` chain, in either order; pages of 3 cut batches of 4, whose statements share
        a `stored`, so a page's cursor often sits among equals."""
        before = (await post(client, statement())).json()[0]
        for _ in range(3):
            await post(client, [statement() for _ in range(4)])
        last = (await post(client, [statement() for _ in range(4)])).json()[0]
        await post(client, statement())  # after the window
        since = (await get_one(client, before)).json()["stored"]
        until = (await get_one(client, last)).json()["stored"]
        for ascending in ("false", "true"):
            window = {"since": since, "until": until, "ascending": ascending}
            whole = ids_of(await query(client, **window))
            assert len(whole) == 16
            paged: list[str] = []
            result = await query(client, limit="3", **window)
            while True:
                paged.extend(ids_of(result))
                if not result["more"]:
                    break
                result = (await client.get(result["more"])).json()
            assert paged == whole

    async def test_a_damaged_more_token_is_a_400(self, client: httpx.AsyncClient) -> None:
        """Only a token this LRS issued pages on; the base64 decoder alone would skip what is
        not base64 and serve the same page again and again."""
        await post(client, [statement() for _ in range(3)])
        more = (await query(client, limit="1"))["more"]
        for damaged in (more + "/xapi/statements?more=x", more[:-4], more + "AAAA"):
            response = await client.get(damaged)
            assert response.status_code == 400, damaged
            assert response.json()["error"]["field"] == "more"

    async def test_no_hits_is_empty_list(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3.s2.b4: no hits is 200 with an empty statements array."""
        result = await query(client, verb="http://example.com/verbs/none")
        assert result == {"statements": [], "more": ""}

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"unknown": "1"}, "unknown"),
            ({"Verb": VERB}, "Verb"),
            ({"limit": "-1"}, "limit"),
            ({"ascending": "yes"}, "ascending"),
            ({"since": "yesterday"}, "since"),
            ({"agent": "{not json"}, "agent"),
            ({"registration": "nope"}, "registration"),
            ({"format": "full"}, "format"),
            ({"more": "garbage!"}, "more"),
        ],
    )
    async def test_bad_parameters_are_400(
        self, client: httpx.AsyncClient, params: dict[str, str], field: str
    ) -> None:
        """Communication 3.2.s3.b7-b8, Data 2.2.s4.b4: parameters are validated like data."""
        response = await client.get("/xapi/statements", params=params)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == field

    async def test_consistent_through_on_every_answer(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3.s2.b5: X-Experience-API-Consistent-Through, errors included."""
        for response in (
            await client.get("/xapi/statements"),
            await client.get("/xapi/statements", params={"bogus": "1"}),
        ):
            stamp = response.headers["X-Experience-API-Consistent-Through"]
            assert datetime.fromisoformat(stamp) <= datetime.now(UTC)


class TestFormats:
    async def test_ids_format_keeps_identifiers_only(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3 table 1 row 12: format=ids returns identifiers only."""
        body = with_id(object=activity(ACTIVITY, name={"en-US": "Course"}))
        await post(client, body)
        result = (await get_one(client, body["id"], format="ids")).json()
        assert result["actor"] == {"objectType": "Agent", "mbox": "mailto:learner@example.com"}
        assert result["verb"] == {"id": VERB}
        assert result["object"] == {"id": ACTIVITY}

    async def test_canonical_format_one_language(self, client: httpx.AsyncClient) -> None:
        """Communication 2.1.3.s4: canonical maps carry one language, chosen by Accept-Language."""
        first = with_id(object=activity(ACTIVITY, name={"en-US": "Course", "fr-FR": "Cours"}))
        second = with_id(object=activity(ACTIVITY, description={"de-DE": "Kurs"}))
        await post(client, [first, second])
        response = await client.get(
            "/xapi/statements",
            params={"statementId": first["id"], "format": "canonical"},
            headers={"Accept-Language": "fr-FR"},
        )
        definition = response.json()["object"]["definition"]
        assert definition["name"] == {"fr-FR": "Cours"}
        assert definition["description"] == {"de-DE": "Kurs"}


class TestAuthorization:
    async def test_other_tenant_sees_nothing(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """Each tenant's statements are invisible to another tenant's credentials."""
        statement_id = (await post(client, statement())).json()[0]
        authorization, _ = await make_credential(app, [Scope.ALL], tenant="other")
        async with client_for(app, authorization) as other:
            assert (await get_one(other, statement_id)).status_code == 404
            assert (await query(other))["statements"] == []

    async def test_read_mine_sees_own_statements_only(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        """Communication 4.2 table 1: statements/read/mine reads what its credential wrote."""
        await post(client, statement())
        authorization, _ = await make_credential(
            app, [Scope.STATEMENTS_WRITE, Scope.STATEMENTS_READ_MINE]
        )
        async with client_for(app, authorization) as mine:
            own = (await post(mine, statement())).json()
            assert ids_of(await query(mine)) == own

    async def test_missing_scope_is_403_naming_it(self, app: FastAPI) -> None:
        """Communication 3.2.s2.b3: authenticated but not allowed is a 403."""
        authorization, _ = await make_credential(app, [Scope.STATEMENTS_READ])
        async with client_for(app, authorization) as reader:
            response = await post(reader, statement())
        assert response.status_code == 403
        assert "statements/write" in response.json()["error"]["message"]

    @pytest.mark.parametrize(
        "authorization", [None, "Basic Og==", "Basic !!!", "Bearer x", "Basic dXNlcjpwYXNz"]
    )
    async def test_bad_credentials_are_401(self, app: FastAPI, authorization: str | None) -> None:
        """Communication 3.2.s2.b2, 4.0: missing, malformed or unknown credentials are a 401."""
        async with client_for(app, authorization) as anonymous:
            response = await anonymous.get("/xapi/statements")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")

    @pytest.mark.parametrize(
        ("method", "url"),
        [
            ("PUT", "/xapi/statements"),  # no statementId
            ("PUT", "/xapi/statements?verb=x"),  # a parameter PUT does not take
            ("POST", "/xapi/statements?statementId=x"),  # POST takes none
        ],
    )
    async def test_writes_authenticate_before_their_parameters_and_body(
        self, app: FastAPI, method: str, url: str
    ) -> None:
        """Communication 3.2.s2.b2: a write without credentials is a 401, whatever else is
        wrong with it (its parameters, a body that is not JSON)."""
        async with client_for(app, None) as anonymous:
            response = await anonymous.request(method, url, content=b"{")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")

    async def test_a_scripts_401_carries_no_challenge(self, app: FastAPI) -> None:
        """A browser meets a Basic challenge to a script's request with a login dialog (over
        a cmi5 AU the LRS serves); a request marked as a script's gets the 401 without it."""
        async with client_for(app, None) as browser:
            response = await browser.get("/xapi/statements", headers={"Sec-Fetch-Mode": "cors"})
        assert response.status_code == 401
        assert "WWW-Authenticate" not in response.headers


async def test_agent_parameter_is_url_encoded_json(client: httpx.AsyncClient) -> None:
    """Communication 2.1.3: the agent parameter is an Agent as JSON, URL-encoded."""
    await post(client, statement())
    raw = quote(json.dumps({"mbox": "mailto:learner@example.com"}))
    response = await client.get(f"/xapi/statements?agent={raw}")
    assert len(response.json()["statements"]) == 1
