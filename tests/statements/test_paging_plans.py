"""What a `more` page costs: its index walk starts at the page's cursor, so a late page of a
chain reads about as much as the first (keyset paging; xAPI-Communication 2.1.3 `more`)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import make_url

from auth.models import Scope
from tests.conftest import client_for, make_credential
from tests.factories import VERB, with_id

PAGE = 20
BATCHES = 30  # one `stored` each: a page is one batch


def _plan_rows(plan: dict[str, Any]) -> int:
    """The rows a PostgreSQL plan's nodes handed on or read and threw away."""
    rows = int(plan["Actual Rows"]) * int(plan["Actual Loops"])
    rows += int(plan.get("Rows Removed by Filter", 0))
    return rows + sum(_plan_rows(child) for child in plan.get("Plans", []))


async def _work(app: FastAPI, sql: str, parameters: Any) -> int:
    """How much the database did for a query: on PostgreSQL the rows of its plan (forced onto
    its indexes, as at scale: a table this small would be scanned), on SQLite the virtual
    machine steps it took."""
    if app.state.engine.dialect.name == "sqlite":
        steps = 0

        def step() -> int:
            nonlocal steps
            steps += 1
            return 0

        database = make_url(app.state.settings.database_url).database
        assert database is not None
        with sqlite3.connect(database) as connection:
            connection.set_progress_handler(step, 1)
            connection.execute(sql, parameters).fetchall()
        return steps
    async with app.state.engine.connect() as connection:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            await connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        result = await connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, parameters
        )
        plan = result.scalar_one()
        return _plan_rows((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])


async def test_the_last_more_page_costs_about_what_the_first_does(app: FastAPI) -> None:
    authorization, _ = await make_credential(app, [Scope.ALL])
    executed: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        if "ORDER BY" in sql:
            executed.append((sql, parameters))

    async with client_for(app, authorization) as client:
        for _ in range(BATCHES):
            batch = [with_id() for _ in range(PAGE)]
            assert (await client.post("/xapi/statements", json=batch)).status_code == 200
        engine = app.state.read_engine.sync_engine
        event.listen(engine, "before_cursor_execute", capture)
        try:
            first_page = {"verb": VERB, "limit": str(PAGE)}
            page = (await client.get("/xapi/statements", params=first_page)).json()
            while page["more"]:
                page = (await client.get(page["more"])).json()
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    assert len(executed) == BATCHES
    first, last = await _work(app, *executed[0]), await _work(app, *executed[-1])
    # Walking from the newest match, the last page read all 30 batches to reach its own:
    # 3.3 (SQLite) and 3.5 (PostgreSQL) times the first page's work; about 1 since.
    assert last < 2 * first, (first, last)
