"""What every request gets: an id, a deadline, a rate limit, an access log line, and a JSON
answer even when the service fails; and what no log line holds."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text

from auth.models import Scope
from lrs.db import DEADLINE, commit
from lrs.logs import JSONFormatter, RequestIdFilter
from lrs.settings import Settings
from tests.conftest import client_for, make_credential, running_app
from tests.statements.test_attachments import (
    MIXED,
    attachment,
    close,
    data_part,
    json_part,
    make_statement,
)

STATE = "/xapi/activities/state"


def _settings(database_url: str, **overrides: float) -> Settings:
    settings = Settings(environment="test", database_url=database_url, admin_key=None)
    return settings.model_copy(update=overrides)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Captured records, stamped with their request ids as the server's log handler does."""
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO)
    return caplog


def _formatted(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JSONFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


class TestRequestId:
    async def test_made_answered_and_logged(
        self, app: FastAPI, logs: pytest.LogCaptureFixture
    ) -> None:
        """Each answer names its request in X-Request-ID, and so does the access log line."""
        authorization, key = await make_credential(app, [Scope.ALL])
        async with client_for(app, authorization) as client:
            first = await client.get("/xapi/statements", params={"verb": "http://example.com/v"})
            second = await client.get("/xapi/statements")
        assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
        lines = [line for line in _formatted(logs) if line["logger"] == "lrs.access"]
        assert lines[0]["request_id"] == first.headers["X-Request-ID"]
        assert lines[0]["path"] == "/xapi/statements"  # never the query string
        assert lines[0]["status"] == 200
        assert lines[0]["credential"] == key

    @pytest.mark.parametrize(
        ("sent", "kept"), [("lms-42.abc:7", True), ("two words", False), ("x" * 129, False)]
    )
    async def test_a_plain_client_id_is_kept(self, app: FastAPI, sent: str, kept: bool) -> None:
        """A load balancer's or LMS's request id carries through when it is a plain token."""
        async with client_for(app, None) as client:
            answer = await client.get("/xapi/about", headers={"X-Request-ID": sent})
        assert (answer.headers["X-Request-ID"] == sent) is kept


class TestDeadline:
    async def test_a_body_that_does_not_arrive_is_408(self, database_url: str) -> None:
        """A client that stops sending its body holds no connection and no transaction for
        longer than the request timeout: 408, and nothing is stored."""
        async with running_app(_settings(database_url, request_timeout_seconds=0.5)) as app:
            authorization, _ = await make_credential(app, [Scope.ALL])

            async def stalled_body() -> AsyncIterator[bytes]:
                yield b'{"actor": '
                await asyncio.sleep(5)
                yield b"}"

            async with client_for(app, authorization) as client:
                answer = await client.post(
                    "/xapi/statements",
                    content=stalled_body(),
                    headers={"Content-Type": "application/json"},
                )
        assert answer.status_code == 408
        assert answer.json()["error"]["field"] == "body"

    async def test_a_request_past_its_deadline_is_503_and_changes_nothing(
        self, database_url: str
    ) -> None:
        """A request the service cannot finish in time (here, a write waiting on a document
        another transaction holds) is answered 503 with Retry-After, and its write is not
        made even once the document is free."""
        if database_url.startswith("sqlite"):
            pytest.skip("SQLite cannot interrupt a statement waiting for its lock")
        settings = _settings(database_url, request_timeout_seconds=0.5, analytics_enabled=False)
        async with running_app(settings) as app:
            authorization, _ = await make_credential(app, [Scope.ALL])
            params = {
                "activityId": "http://example.com/locked",
                "agent": json.dumps({"mbox": "mailto:locked@example.com"}),
                "stateId": "held",
            }
            async with client_for(app, authorization, "2.0.0") as client:
                created = await client.post(STATE, params=params, json={"before": 1})
                assert created.status_code == 204
                async with app.state.sessionmaker() as holder:
                    await holder.execute(
                        text("SELECT id FROM documents WHERE document_id = 'held' FOR UPDATE")
                    )
                    late = await client.post(STATE, params=params, json={"after": 2})
                    await holder.rollback()
                stored = await client.get(STATE, params=params)
            checked_out = app.state.engine.pool.checkedout()
        assert late.status_code == 503
        assert late.headers["Retry-After"] == "1"
        assert stored.json() == {"before": 1}
        assert checked_out == 0  # the cut-short request's session was closed too


async def test_every_request_gives_its_connections_back(database_url: str) -> None:
    """The sessions a request opens are closed when it ends, whether it was answered, read
    only, or refused: the pool has every connection back (the learner models' background
    fold is off, so that nothing else holds one)."""
    async with running_app(_settings(database_url, analytics_enabled=False)) as app:
        authorization, _ = await make_credential(app, [Scope.ALL])
        pool = app.state.engine.pool
        async with client_for(app, authorization) as client:
            answers = {
                "stored": await client.post("/xapi/statements", json=make_statement()),
                "read": await client.get("/xapi/statements"),
                "refused": await client.post("/xapi/statements", json={"actor": {}}),
                "unknown document": await client.get(
                    STATE,
                    params={
                        "activityId": "http://example.com/a",
                        "agent": json.dumps({"mbox": "mailto:a@example.com"}),
                        "stateId": "none",
                    },
                ),
            }
            held = pool.checkedout()
        assert {name: answer.status_code for name, answer in answers.items()} == {
            "stored": 200,
            "read": 200,
            "refused": 400,
            "unknown document": 404,
        }
        assert held == 0


async def _failing(_request: Request) -> None:
    raise RuntimeError("a bug")


async def test_an_unexpected_error_is_a_json_500(
    app: FastAPI, logs: pytest.LogCaptureFixture
) -> None:
    """A fault of the service is a 500 in JSON with the request's id, and says nothing of
    the fault; the log has the traceback under the same id."""
    app.add_api_route("/xapi/failing", _failing)
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        answer = await client.get("/xapi/failing")
    assert answer.status_code == 500
    assert "a bug" not in answer.text
    assert answer.json()["error"]["status"] == 500
    assert answer.headers["X-Experience-API-Version"] == "1.0.3"
    logged = [line for line in _formatted(logs) if line["level"] == "error"]
    assert logged[0]["request_id"] == answer.headers["X-Request-ID"]
    assert "RuntimeError: a bug" in str(logged[0]["error"])


async def test_a_credential_over_its_rate_gets_429(database_url: str) -> None:
    """Each credential may make rate_limit_per_second requests, in bursts of up to
    rate_limit_burst; past it, 429 with Retry-After, while other credentials go on."""
    settings = _settings(database_url, rate_limit_per_second=0.5, rate_limit_burst=2)
    async with running_app(settings) as app:
        busy, _ = await make_credential(app, [Scope.ALL])
        other, _ = await make_credential(app, [Scope.ALL])
        async with client_for(app, busy) as client:
            answers = [await client.get("/xapi/statements") for _ in range(3)]
        async with client_for(app, other) as client:
            unaffected = await client.get("/xapi/statements")
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) == 2
    assert unaffected.status_code == 200


async def test_an_attachment_over_its_limit_is_413(database_url: str) -> None:
    """Communication 3.2.s3.b11-b12: an attachment larger than max_attachment_bytes is a 413
    that names its part."""
    async with running_app(_settings(database_url, max_attachment_bytes=10)) as app:
        authorization, _ = await make_credential(app, [Scope.ALL])
        data = b"eleven bytes"
        body = json.dumps(make_statement(attachment(data))).encode()
        async with client_for(app, authorization) as client:
            answer = await client.post(
                "/xapi/statements",
                content=json_part(body) + data_part(data) + close(),
                headers={"Content-Type": MIXED},
            )
    assert answer.status_code == 413
    assert answer.json()["error"]["field"] == "part 2"


async def test_secrets_never_reach_the_log(app: FastAPI, logs: pytest.LogCaptureFixture) -> None:
    """Neither a credential's secret nor its Authorization header appears in any log line,
    whatever the outcome of the request: the service's own lines at every level, others at
    the levels `lrs serve` lets through (INFO here, WARNING there)."""
    logs.set_level(logging.DEBUG, logger="lrs")
    authorization, key = await make_credential(app, [Scope.ALL])
    secret = base64.b64decode(authorization.split()[1]).decode().split(":", 1)[1]
    async with client_for(app, authorization) as client:
        await client.get("/xapi/statements")
        await client.post("/xapi/statements", json={"not": "a statement"})
    wrong = "Basic " + base64.b64encode(f"{key}:{secret}-wrong".encode()).decode()
    async with client_for(app, wrong) as client:
        await client.get("/xapi/statements")
    async with client_for(app, authorization, "2.0.0") as client:
        # A value the database refuses (PostgreSQL text holds no NUL): its error is logged,
        # the value is not.
        params = {
            "activityId": "http://example.com/a",
            "agent": json.dumps({"mbox": "mailto:x@example.com"}),
            "stateId": f"{secret}\x00",
        }
        refused = await client.put("/xapi/activities/state", params=params, content=b"x")
        assert refused.status_code in (204, 400)
    served = [line for line in _formatted(logs) if not str(line["logger"]).startswith("httpx")]
    text_logged = "\n".join(json.dumps(line) for line in served)
    assert text_logged
    assert secret not in text_logged
    assert authorization.split()[1] not in text_logged


async def test_a_commit_is_not_cut_short_by_the_deadline() -> None:
    """Once a request commits, its deadline no longer applies (a COMMIT cut short could have
    reached the database, and the 503 would be untrue); one whose deadline had passed does
    not commit."""

    class Recorder:
        committed = False

        async def commit(self) -> None:
            await asyncio.sleep(0.2)  # longer than what is left of the deadline
            self.committed = True

    on_time = Recorder()
    async with asyncio.timeout(0.1) as deadline:
        DEADLINE.set(deadline)
        await commit(on_time)  # type: ignore[arg-type]
    assert on_time.committed
    late = Recorder()
    with pytest.raises(TimeoutError):
        await _past_deadline()
    with pytest.raises(asyncio.CancelledError):
        await commit(late)  # type: ignore[arg-type]
    assert not late.committed


async def _past_deadline() -> None:
    async with asyncio.timeout(0.05) as deadline:
        DEADLINE.set(deadline)
        await asyncio.sleep(0.1)


async def test_failed_logins_of_a_client_get_429(database_url: str) -> None:
    """A client that keeps failing to authenticate is answered 429 before its secret is
    checked (each check costs a slow hash), with Retry-After; its next valid request waits."""
    settings = _settings(database_url, failed_logins_per_minute=6, failed_logins_burst=3)
    async with running_app(settings) as app:
        good, key = await make_credential(app, [Scope.ALL])
        wrong = "Basic " + base64.b64encode(f"{key}:not-the-secret".encode()).decode()
        async with client_for(app, wrong) as client:
            statuses = [(await client.get("/xapi/statements")).status_code for _ in range(4)]
            token = await client.post(
                "/oauth/token",
                content="grant_type=client_credentials",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        async with client_for(app, good) as client:
            blocked = await client.get("/xapi/statements")
    assert statuses == [401, 401, 401, 429]
    assert token.status_code == 429
    assert token.json()["error"] == "slow_down"
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) == 10
