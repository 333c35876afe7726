"""The views under /analytics through HTTP, on both back ends: CSV beside JSON, paging,
parameter rules, scopes, cohort, tenant and time filters, the summaries' arithmetic, the
retention curve; and `lrs analytics rebuild` / `fit`."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from itertools import pairwise
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from analytics import bkt, memory, store
from analytics.service import Analytics
from analytics.tables import (
    analytics_evidence,
    analytics_parameters,
    analytics_queue,
    analytics_states,
)
from auth import store as auth_store
from auth.models import Role, Scope
from lrs import cli
from lrs.app import create_app
from lrs.db import create_sessionmaker
from lrs.middleware import utc_timestamp
from lrs.settings import Settings
from tests.analytics.conftest import (
    COURSE,
    ITEM,
    QUIZ,
    SLOW_GROWTH,
    answer,
    key_of,
    post,
    said,
    saved_models,
    simulated_reviews,
)
from tests.conftest import client_for, make_credential
from tests.factories import ACTIVITY
from tests.tenancy import conftest as tenancy
from tests.tenancy.conftest import Group

T = TypeVar("T")
# The tenancy tests' group company (group > sub-a > dept-a1, group > sub-b), as a fixture here.
company = tenancy.group
VIEWS = (
    "/analytics/progress",
    "/analytics/progress/summary",
    "/analytics/mastery",
    "/analytics/mastery/summary",
    "/analytics/memory",
    "/analytics/memory/due",
    "/analytics/memory/curve",
)
PAGED = ("/analytics/progress", "/analytics/mastery", "/analytics/memory")
PROGRESS_COLUMNS = [
    "tenant", "learner", "activity", "status", "completion", "seconds", "statements",
    "first_at", "last_at", "completed_at", "outcome", "first_outcome", "attempts",
    "best_score",
]  # fmt: skip
MEMORY_COLUMNS = [
    "tenant", "learner", "item", "retrievability", "stability", "difficulty", "reviews",
    "last_review", "next_review", "due", "estimate",
]  # fmt: skip
COHORT_MASTERY_COLUMNS = [
    "skill", "learners", "mean_mastery", "mastered", "mastered_rate", "answers",
    "distribution", "estimate",
]  # fmt: skip


def agent(name: str) -> str:
    return json.dumps({"mbox": f"mailto:{name}@corp.example.com"})


def on_postgresql(settings: Settings) -> bool:
    return settings.database_url.startswith("postgresql")


async def view(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def rows_of(client: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await view(client, path, **params))["rows"]
    return rows


async def learners_in(client: httpx.AsyncClient, path: str, **params: str) -> set[str]:
    return {row["learner"] for row in await rows_of(client, path, **params)}


async def summary_row(
    client: httpx.AsyncClient, path: str, activity: str, **params: str
) -> dict[str, Any]:
    (row,) = [
        row
        for row in await rows_of(client, path, **params)
        if (row.get("activity") or row.get("skill")) == activity
    ]
    return row


def error_field(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    field: str = response.json()["error"]["field"]
    return field


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


class TestCsv:
    """format=csv: text/csv, a header of the view's columns, the JSON rows' values (lists
    as JSON, booleans true / false, null empty)."""

    @staticmethod
    def same_values(csv_row: dict[str, str], json_row: dict[str, Any]) -> None:
        assert list(csv_row) == list(json_row)
        for name, value in json_row.items():
            cell = csv_row[name]
            if value is None:
                assert cell == "", name
            elif isinstance(value, bool):
                assert cell == ("true" if value else "false"), name
            elif isinstance(value, list):
                assert json.loads(cell) == value, name
            elif isinstance(value, int | float):
                assert float(cell) == value, name
            else:
                assert cell == value, name

    async def csv_and_json(
        self, client: httpx.AsyncClient, path: str, **params: str
    ) -> tuple[list[str], list[dict[str, str]], list[dict[str, Any]]]:
        response = await client.get(path, params={**params, "format": "csv"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        lines = response.text.splitlines()
        header = lines[0].split(",")
        table = list(csv.DictReader(io.StringIO(response.text)))
        return header, table, await rows_of(client, path, **params)

    async def test_progress(self, reporter: httpx.AsyncClient) -> None:
        await post(
            reporter,
            [
                answer("ann", True, "2026-03-02T09:00:00Z"),
                said("ann", "passed", QUIZ, "2026-03-02T09:05:00Z", result={"duration": "PT5M"}),
                said("ben", "completed", COURSE, "2026-03-03T09:00:00Z"),
            ],
        )
        header, table, rows = await self.csv_and_json(reporter, "/analytics/progress")
        assert header == PROGRESS_COLUMNS
        assert len(table) == len(rows) == 4
        for csv_row, json_row in zip(table, rows, strict=True):
            self.same_values(csv_row, json_row)
        assert {row["completed_at"] for row in table} >= {"", "2026-03-03T09:00:00.000000Z"}

    async def test_booleans_are_true_or_false(self, reporter: httpx.AsyncClient) -> None:
        await post(reporter, [answer("ann", True, "2026-03-02T09:00:00Z")])
        for at, due in (("2026-03-02T10:00:00Z", "false"), ("2027-03-02T09:00:00Z", "true")):
            header, table, rows = await self.csv_and_json(
                reporter, "/analytics/memory", at=at, activity=ITEM
            )
            assert header == MEMORY_COLUMNS
            (csv_row,) = table
            self.same_values(csv_row, rows[0])
            assert csv_row["due"] == due

    async def test_lists_are_json(self, reporter: httpx.AsyncClient) -> None:
        await post(reporter, [answer("ann", False, "2026-03-02T09:00:00Z")])
        header, table, rows = await self.csv_and_json(
            reporter, "/analytics/mastery/summary", activity=ITEM
        )
        assert header == COHORT_MASTERY_COLUMNS
        (csv_row,) = table
        self.same_values(csv_row, rows[0])
        assert json.loads(csv_row["distribution"]) == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]

    async def test_an_empty_view_is_its_header(self, reporter: httpx.AsyncClient) -> None:
        response = await reporter.get("/analytics/progress", params={"format": "csv"})
        assert response.status_code == 200
        assert response.text == ",".join(PROGRESS_COLUMNS) + "\n"


async def five_models(client: httpx.AsyncClient) -> list[str]:
    """Five learners' models of one Activity; their learner keys in view order."""
    names = ["eve", "ann", "dan", "ben", "cat"]
    await post(
        client,
        [
            said(name, "experienced", COURSE, f"2026-03-0{day}T09:00:00Z")
            for day, name in enumerate(names, start=1)
        ],
    )
    return sorted(key_of(name) for name in names)


class TestPaging:
    async def test_following_more_returns_every_model_once_in_order(
        self, reporter: httpx.AsyncClient
    ) -> None:
        expected = await five_models(reporter)
        page = await view(reporter, "/analytics/progress", limit="2")
        seen, sizes = [], []
        while True:
            sizes.append(len(page["rows"]))
            seen += [row["learner"] for row in page["rows"]]
            if page["more"] is None:
                break
            assert page["more"].startswith("/analytics/progress?")
            response = await reporter.get(page["more"])
            assert response.status_code == 200, response.text
            page = response.json()
        assert seen == expected
        assert sizes == [2, 2, 1]

    async def test_a_full_last_page_has_no_more(self, reporter: httpx.AsyncClient) -> None:
        await five_models(reporter)
        assert (await view(reporter, "/analytics/progress", limit="5"))["more"] is None
        first = await view(reporter, "/analytics/progress", limit="4")
        assert first["more"] is not None

    async def test_the_more_link_keeps_the_filters(self, reporter: httpx.AsyncClient) -> None:
        expected = await five_models(reporter)
        await post(reporter, [said("ann", "experienced", QUIZ, "2026-03-09T09:00:00Z")])
        first = await view(reporter, "/analytics/progress", limit="3", activity=COURSE)
        assert "activity=" in first["more"]
        rest = (await reporter.get(first["more"])).json()
        assert [row["learner"] for row in first["rows"] + rest["rows"]] == expected
        assert {row["activity"] for row in rest["rows"]} == {COURSE}

    async def test_csv_pages_link_to_the_next(self, reporter: httpx.AsyncClient) -> None:
        expected = await five_models(reporter)
        response = await reporter.get("/analytics/progress", params={"format": "csv", "limit": 3})
        link = response.headers["link"]
        assert link.startswith("</analytics/progress?")
        assert link.endswith('>; rel="next"')
        rest = await reporter.get(link[1 : link.index(">")])
        assert "link" not in rest.headers
        learners = [row["learner"] for row in csv.DictReader(io.StringIO(response.text))]
        learners += [row["learner"] for row in csv.DictReader(io.StringIO(rest.text))]
        assert learners == expected

    @pytest.mark.parametrize(
        "after",
        [
            "not a cursor",
            cursor([1, "only two"]),
            cursor({"tenant": 1}),
            cursor(7),
            cursor([[1], "a", "b"]),
            base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        ],
    )
    async def test_a_forged_after_is_a_400(self, reporter: httpx.AsyncClient, after: str) -> None:
        await five_models(reporter)
        for path in PAGED:
            response = await reporter.get(path, params={"after": after})
            assert error_field(response, 400) == "after", path

    async def test_a_cursor_past_the_integer_range_is_a_400(
        self, reporter: httpx.AsyncClient
    ) -> None:
        await five_models(reporter)
        response = await reporter.get(
            "/analytics/progress", params={"after": cursor([10**20, "a", "b"])}
        )
        assert error_field(response, 400) == "after"


class TestParameters:
    """xAPI-Communication 3.2.s3.b7-b8 and the views' own ranges: the 400 names the
    parameter."""

    @pytest.mark.parametrize(
        ("path", "params", "field"),
        [
            ("/analytics/progress", {"learner": "x"}, "learner"),
            ("/analytics/progress", {"Agent": agent("ann")}, "Agent"),
            ("/analytics/progress", {"LIMIT": "5"}, "LIMIT"),
            ("/analytics/progress/summary", {"limit": "5"}, "limit"),  # not a paged view
            ("/analytics/mastery", {"at": "2026-03-02T09:00:00Z"}, "at"),  # not a memory view
            ("/analytics/memory/curve", {"after": cursor([1, "a", "b"])}, "after"),
            ("/analytics/memory", {"days": "3"}, "days"),
            ("/analytics/progress", {"limit": "0"}, "limit"),
            ("/analytics/progress", {"limit": "5000"}, "limit"),
            ("/analytics/mastery", {"limit": "1001"}, "limit"),
            ("/analytics/memory", {"limit": "2.5"}, "limit"),
            ("/analytics/memory", {"limit": "ten"}, "limit"),
            ("/analytics/memory", {"at": "yesterday"}, "at"),
            ("/analytics/memory/due", {"at": "2026-13-01T00:00:00Z"}, "at"),
            ("/analytics/memory/curve", {"at": "12"}, "at"),
            ("/analytics/memory", {"retention": "1.5"}, "retention"),
            ("/analytics/memory/due", {"retention": "0"}, "retention"),
            ("/analytics/memory", {"retention": "nan"}, "retention"),
            ("/analytics/memory/curve", {"days": "-1"}, "days"),
            ("/analytics/memory/curve", {"days": "3651"}, "days"),
            ("/analytics/progress", {"since": "last week"}, "since"),
            ("/analytics/progress/summary", {"until": "now"}, "until"),
            ("/analytics/progress", {"format": "xml"}, "format"),
            ("/analytics/mastery/summary", {"format": "CSV"}, "format"),
            ("/analytics/progress", {"agent": "ann"}, "agent"),
        ],
    )
    async def test_a_bad_parameter_is_a_400_naming_it(
        self, reporter: httpx.AsyncClient, path: str, params: dict[str, str], field: str
    ) -> None:
        assert error_field(await reporter.get(path, params=params), 400) == field

    async def test_a_mis_cased_parameter_suggests_the_right_one(
        self, reporter: httpx.AsyncClient
    ) -> None:
        response = await reporter.get("/analytics/progress", params={"Activity": ITEM})
        assert error_field(response, 400) == "Activity"
        assert "'activity'" in response.json()["error"]["message"]

    async def test_the_range_edges_are_accepted(self, reporter: httpx.AsyncClient) -> None:
        for path, params in (
            ("/analytics/progress", {"limit": "1"}),
            ("/analytics/progress", {"limit": "1000"}),
            ("/analytics/memory", {"retention": "0.01"}),
            ("/analytics/memory/due", {"retention": "0.99"}),
            ("/analytics/memory/curve", {"days": "0"}),
            ("/analytics/memory/curve", {"days": "3650"}),
        ):
            response = await reporter.get(path, params=params)
            assert response.status_code == 200, (path, params, response.text)

    async def test_a_repeated_parameter_is_a_400(self, reporter: httpx.AsyncClient) -> None:
        response = await reporter.get("/analytics/progress?limit=2&limit=1000")
        assert error_field(response, 400) == "limit"

    async def test_an_empty_at_is_a_400(self, reporter: httpx.AsyncClient) -> None:
        response = await reporter.get("/analytics/memory", params={"at": ""})
        assert error_field(response, 400) == "at"


class TestScopes:
    """The views read learner models made of statements: reports/read or statements/read
    (or `all`), nothing less."""

    @pytest.mark.parametrize(
        "scopes",
        [
            [Scope.STATEMENTS_WRITE],
            [Scope.STATEMENTS_READ_MINE],  # would show other learners' models
            [Scope.STATE, Scope.PROFILE, Scope.DEFINE],
            [Scope.AUDIT_READ, Scope.CMI5_LAUNCH],
        ],
    )
    async def test_without_a_read_scope_every_view_is_403(
        self, app: FastAPI, reporter: httpx.AsyncClient, scopes: list[Scope]
    ) -> None:
        await post(reporter, [answer("ann", True, "2026-03-02T09:00:00Z")])
        authorization, _ = await make_credential(app, scopes)
        async with client_for(app, authorization, "2.0.0") as client:
            for path in VIEWS:
                response = await client.get(path)
                assert error_field(response, 403) == "scope", path
                assert "ann" not in response.text

    @pytest.mark.parametrize("scopes", [[Scope.REPORTS_READ], [Scope.STATEMENTS_READ], [Scope.ALL]])
    async def test_a_read_scope_reads_every_view(
        self, app: FastAPI, reporter: httpx.AsyncClient, scopes: list[Scope]
    ) -> None:
        await post(reporter, [answer("ann", True, "2026-03-02T09:00:00Z")])
        authorization, _ = await make_credential(app, scopes)
        async with client_for(app, authorization, "2.0.0") as client:
            for path in VIEWS:
                assert (await client.get(path)).status_code == 200, path
            assert await learners_in(client, "/analytics/progress") == {key_of("ann")}

    async def test_all_read_reads_the_views(
        self, app: FastAPI, reporter: httpx.AsyncClient
    ) -> None:
        await post(reporter, [answer("ann", True, "2026-03-02T09:00:00Z")])
        authorization, _ = await make_credential(app, [Scope.ALL_READ])
        async with client_for(app, authorization, "2.0.0") as client:
            assert (await client.get("/xapi/statements")).status_code == 200
            assert (await client.get("/analytics/progress")).status_code == 200


# The learner directory of the cohort tests: two in sales, one in ops, one not in it.
DIRECTORY = [
    {
        "external_id": "p-ann",
        "org_unit": "sales",
        "job_role": "rep",
        "audience": "employee",
        "agents": [{"mbox": "mailto:ann@corp.example.com"}],
    },
    {
        "external_id": "p-ben",
        "org_unit": "sales",
        "job_role": "manager",
        "audience": "partner",
        "agents": [{"mbox": "mailto:ben@corp.example.com"}],
    },
    {
        "external_id": "p-cat",
        "org_unit": "ops",
        "job_role": "rep",
        "audience": "employee",
        "agents": [{"mbox": "mailto:cat@corp.example.com"}],
    },
]


PASS_FAIL = ("passed", "failed")


@pytest.fixture
async def cohort(app: FastAPI, reporter: httpx.AsyncClient) -> None:
    """The directory imported into the reporter's tenant; ann and cat pass the quiz, ben
    and dan (not in the directory) fail it."""
    admin, _ = await make_credential(app, [], "acme", role=Role.ADMIN)
    async with client_for(app, admin) as client:
        response = await client.post("/admin/directory/acme/import", json=DIRECTORY)
    assert response.json() == {"imported": 3}, response.text
    await post(
        reporter,
        [
            said(name, verb, QUIZ, "2026-03-02T09:00:00Z", grouping=(COURSE,))
            for name, verb in zip(("ann", "ben", "cat", "dan"), PASS_FAIL * 2, strict=True)
        ],
    )


@pytest.mark.usefixtures("cohort")
class TestCohorts:
    async def test_org_unit(self, reporter: httpx.AsyncClient) -> None:
        sales = {key_of("ann"), key_of("ben")}
        assert await learners_in(reporter, "/analytics/progress", org_unit="sales") == sales
        row = await summary_row(reporter, "/analytics/progress/summary", QUIZ, org_unit="sales")
        assert (row["learners"], row["assessed"], row["passed"]) == (2, 2, 1)
        assert row["pass_rate"] == pytest.approx(0.5)
        everyone = await summary_row(reporter, "/analytics/progress/summary", QUIZ)
        assert (everyone["learners"], everyone["passed"]) == (4, 2)

    async def test_job_role_and_audience(self, reporter: httpx.AsyncClient) -> None:
        reps = {key_of("ann"), key_of("cat")}
        assert await learners_in(reporter, "/analytics/progress", job_role="rep") == reps
        partners = await learners_in(reporter, "/analytics/progress", audience="partner")
        assert partners == {key_of("ben")}
        row = await summary_row(reporter, "/analytics/progress/summary", QUIZ, audience="employee")
        assert (row["learners"], row["passed"], row["pass_rate"]) == (2, 2, 1.0)

    async def test_filters_combine(self, reporter: httpx.AsyncClient) -> None:
        both = await learners_in(reporter, "/analytics/progress", org_unit="sales", job_role="rep")
        assert both == {key_of("ann")}
        assert (
            await rows_of(reporter, "/analytics/progress", org_unit="ops", audience="partner") == []
        )

    async def test_an_unknown_cohort_is_empty(self, reporter: httpx.AsyncClient) -> None:
        assert await rows_of(reporter, "/analytics/progress", org_unit="Sales") == []
        assert await rows_of(reporter, "/analytics/progress/summary", org_unit="legal") == []

    async def test_cohorts_filter_the_other_views(self, reporter: httpx.AsyncClient) -> None:
        ops = {key_of("cat")}
        assert await learners_in(reporter, "/analytics/mastery", org_unit="ops") == ops
        assert await learners_in(reporter, "/analytics/memory", org_unit="ops") == ops
        row = await summary_row(reporter, "/analytics/mastery/summary", QUIZ, org_unit="ops")
        assert row["learners"] == 1
        (day0,) = await rows_of(reporter, "/analytics/memory/curve", org_unit="sales", days="0")
        assert day0["memories"] == 2


class TestTenants:
    """A roll-up reader reads its subtree; `tenant` narrows it to one subtree of those."""

    async def test_a_roll_up_reader_sees_its_subtree(self, company: Group) -> None:
        names = company.names
        async with company.client("analyst@group") as client:
            rows = await rows_of(client, "/analytics/progress")
            assert sorted(row["tenant"] for row in rows) == sorted(names.values())
            assert {(row["learner"], row["activity"]) for row in rows} == {
                ("mbox:mailto:pat@example.com", ACTIVITY)
            }
            for top, below in (
                ("sub-a", {"sub-a", "dept-a1"}),
                ("dept-a1", {"dept-a1"}),
                ("group", set(names)),
            ):
                tenants = {
                    row["tenant"]
                    for row in await rows_of(client, "/analytics/progress", tenant=names[top])
                }
                assert tenants == {names[short] for short in below}, top
            row = await summary_row(
                client, "/analytics/progress/summary", ACTIVITY, tenant=names["dept-a1"]
            )
            assert row["learners"] == 1

    async def test_readers_without_roll_up_see_their_own_tenant(self, company: Group) -> None:
        async with company.client("lms@sub-a") as client:
            rows = await rows_of(client, "/analytics/progress")
        assert [row["tenant"] for row in rows] == [company.names["sub-a"]]

    async def test_a_tenant_outside_the_readers_is_403(self, company: Group) -> None:
        names = company.names
        for reader, outside in (
            ("analyst@sub-a", "sub-b"),
            ("analyst@sub-a", "group"),
            ("lms@sub-a", "dept-a1"),  # below, but lms does not roll up
        ):
            async with company.client(reader) as client:
                for path in VIEWS:
                    response = await client.get(path, params={"tenant": names[outside]})
                    assert error_field(response, 403) == "tenant", (reader, outside, path)

    async def test_an_unknown_tenant_is_answered_as_an_unreadable_one(self, company: Group) -> None:
        async with company.client("analyst@sub-a") as client:
            unreadable = await client.get(
                "/analytics/progress", params={"tenant": company.names["sub-b"]}
            )
            unknown = await client.get("/analytics/progress", params={"tenant": "no-such-tenant"})
        assert unknown.status_code == unreadable.status_code
        assert unknown.json()["error"]["field"] == unreadable.json()["error"]["field"]

    async def test_a_more_link_replayed_by_another_tenant_stays_in_its_tenant(
        self, company: Group
    ) -> None:
        async with company.client("analyst@group") as client:
            first = await view(client, "/analytics/progress", limit="1")
        assert first["more"]
        async with company.client("lms@sub-b") as sibling:
            response = await sibling.get(first["more"])
        assert response.status_code == 200
        tenants = {row["tenant"] for row in response.json()["rows"]}
        assert tenants <= {company.names["sub-b"]}


class TestWindow:
    """since (exclusive) and until (inclusive) bound each model's last activity."""

    @pytest.fixture(autouse=True)
    async def activity(self, reporter: httpx.AsyncClient) -> None:
        await post(
            reporter,
            [
                said("ann", "experienced", COURSE, "2026-02-20T09:00:00Z"),
                said("ann", "experienced", COURSE, "2026-03-01T09:00:00Z"),
                said("ben", "experienced", COURSE, "2026-03-02T09:00:00Z"),
                said("cat", "experienced", COURSE, "2026-03-03T09:00:00Z"),
            ],
        )

    @pytest.mark.parametrize(
        ("window", "names"),
        [
            ({"since": "2026-03-01T09:00:00Z"}, {"ben", "cat"}),
            ({"since": "2026-03-01T08:59:59Z"}, {"ann", "ben", "cat"}),
            ({"until": "2026-03-02T09:00:00Z"}, {"ann", "ben"}),
            ({"until": "2026-03-02T08:59:59Z"}, {"ann"}),
            ({"since": "2026-03-01T09:00:00Z", "until": "2026-03-02T09:00:00Z"}, {"ben"}),
            # The last activity counts, not the first: ann began before the 25th.
            ({"since": "2026-02-25T00:00:00Z"}, {"ann", "ben", "cat"}),
            ({"until": "2026-02-25T00:00:00Z"}, set()),
            # Other zones are the same instants.
            ({"since": "2026-03-02T10:00:00+01:00"}, {"cat"}),
        ],
    )
    async def test_window(
        self, reporter: httpx.AsyncClient, window: dict[str, str], names: set[str]
    ) -> None:
        expected = {key_of(name) for name in names}
        assert await learners_in(reporter, "/analytics/progress", **window) == expected
        summary = await rows_of(reporter, "/analytics/progress/summary", **window)
        assert [row["learners"] for row in summary] == ([len(names)] if names else [])


class TestProgressSummary:
    @pytest.fixture(autouse=True)
    async def quiz(self, reporter: httpx.AsyncClient) -> None:
        """ann passes first time, ben fails then passes (and completes), cat only fails."""

        def on_quiz(name: str, verb: str, day: int, **result: Any) -> dict[str, Any]:
            moment = f"2026-03-0{day}T09:00:00Z"
            return said(name, verb, QUIZ, moment, result=result or None, grouping=(COURSE,))

        await post(
            reporter,
            [
                on_quiz("ann", "passed", 1, duration="PT10M", completion=True),
                on_quiz("ben", "failed", 1, duration="PT5M"),
                on_quiz("ben", "passed", 2, duration="PT5M"),
                on_quiz("ben", "completed", 3),
                on_quiz("cat", "failed", 1, duration="PT15M"),
            ],
        )

    async def test_hand_computed(self, reporter: httpx.AsyncClient) -> None:
        row = await summary_row(reporter, "/analytics/progress/summary", QUIZ)
        assert row == {
            "activity": QUIZ,
            "learners": 3,
            "completed": 2,
            "completion_rate": pytest.approx(2 / 3),
            "assessed": 3,
            "passed": 2,
            "pass_rate": pytest.approx(2 / 3),
            "first_attempt_pass_rate": pytest.approx(1 / 3),
            "retakes": 1,
            "mean_seconds": pytest.approx(700.0),  # (600 + 600 + 900) / 3
            "estimate": "few observations",
        }

    async def test_a_grouping_counts_time_but_no_outcome(self, reporter: httpx.AsyncClient) -> None:
        row = await summary_row(reporter, "/analytics/progress/summary", COURSE)
        assert (row["learners"], row["completed"], row["assessed"], row["retakes"]) == (3, 0, 0, 0)
        assert (row["completion_rate"], row["pass_rate"], row["first_attempt_pass_rate"]) == (
            0.0,
            None,
            None,
        )
        assert row["mean_seconds"] == pytest.approx(700.0)

    async def test_five_learners_are_enough(self, reporter: httpx.AsyncClient) -> None:
        """LRS_ANALYTICS_MIN_OBSERVATIONS (5): fewer learners are "few observations"."""
        await post(reporter, [said("dan", "passed", QUIZ, "2026-03-04T09:00:00Z")])
        row = await summary_row(reporter, "/analytics/progress/summary", QUIZ)
        assert (row["learners"], row["estimate"]) == (4, "few observations")
        await post(reporter, [said("eve", "passed", QUIZ, "2026-03-04T09:00:00Z")])
        row = await summary_row(reporter, "/analytics/progress/summary", QUIZ)
        assert (row["learners"], row["passed"], row["estimate"]) == (5, 4, "ok")
        assert row["pass_rate"] == pytest.approx(4 / 5)
        assert row["first_attempt_pass_rate"] == pytest.approx(3 / 5)

    async def test_it_agrees_with_the_progress_rows(self, reporter: httpx.AsyncClient) -> None:
        rows = await rows_of(reporter, "/analytics/progress", activity=QUIZ)
        assert {
            row["learner"]: (row["outcome"], row["first_outcome"], row["attempts"]) for row in rows
        } == {
            key_of("ann"): ("passed", "passed", 1),
            key_of("ben"): ("passed", "failed", 2),
            key_of("cat"): ("failed", "failed", 1),
        }


def mastery_after(*answers: bool) -> float:
    mastery = None
    for correct in answers:
        mastery = bkt.update(mastery, correct, bkt.DEFAULT)
    assert mastery is not None
    return mastery


async def answers_by(client: httpx.AsyncClient, sequences: dict[str, tuple[bool, ...]]) -> None:
    await post(
        client,
        [
            answer(name, correct, f"2026-03-02T09:0{minute}:00Z")
            for name, sequence in sequences.items()
            for minute, correct in enumerate(sequence)
        ],
    )


class TestMasterySummary:
    """Per skill: learners, mean mastery, mastered (>= 0.95) and learners per tenth."""

    async def test_distribution_sums_to_learners(self, reporter: httpx.AsyncClient) -> None:
        # Masteries .1458, .1188 and .9192: each well inside its tenth.
        sequences = {"cat": (False,), "eve": (False, False), "ben": (True, True)}
        await answers_by(reporter, sequences)
        row = await summary_row(reporter, "/analytics/mastery/summary", ITEM)
        masteries = [mastery_after(*sequence) for sequence in sequences.values()]
        assert row["distribution"] == [0, 2, 0, 0, 0, 0, 0, 0, 0, 1]
        assert sum(row["distribution"]) == row["learners"] == 3
        assert row["mean_mastery"] == pytest.approx(sum(masteries) / 3, abs=1e-9)
        assert (row["mastered"], row["mastered_rate"], row["answers"]) == (0, 0.0, 5)
        assert row["estimate"] == "few observations"
        # The quiz is the items' parent: the same answers, the same spread.
        quiz = await summary_row(reporter, "/analytics/mastery/summary", QUIZ)
        assert {**quiz, "skill": ITEM} == row

    async def test_each_learner_counts_in_the_tenth_of_their_mastery(
        self, request: pytest.FixtureRequest, settings: Settings, reporter: httpx.AsyncClient
    ) -> None:
        sequences = {"cat": (False,), "dan": (True,), "amy": (True, False)}
        assert [round(mastery_after(*s), 4) for s in sequences.values()] == [0.1458, 0.6927, 0.2978]
        await answers_by(reporter, sequences)
        row = await summary_row(reporter, "/analytics/mastery/summary", ITEM)
        assert row["distribution"] == [0, 1, 1, 0, 0, 0, 1, 0, 0, 0]

    async def test_mastered_is_at_least_0_95(
        self, request: pytest.FixtureRequest, settings: Settings, reporter: httpx.AsyncClient
    ) -> None:
        # Three right answers: .9827, mastered; two: .9192, not yet.
        sequences = {"ann": (True, True, True), "ben": (True, True)}
        assert mastery_after(True, True, True) >= 0.95 > mastery_after(True, True)
        await answers_by(reporter, sequences)
        summary = await view(reporter, "/analytics/mastery/summary", activity=ITEM)
        assert summary["mastered_at"] == 0.95
        (row,) = summary["rows"]
        assert (row["learners"], row["mastered"], row["mastered_rate"]) == (2, 1, 0.5)
        assert row["distribution"] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
        mastered = {
            row["learner"]: row["mastered"]
            for row in await rows_of(reporter, "/analytics/mastery", activity=ITEM)
        }
        assert mastered == {key_of("ann"): True, key_of("ben"): False}


AT = "2026-03-09T09:00:00Z"


class TestRetentionCurve:
    @pytest.fixture(autouse=True)
    async def memories(self, reporter: httpx.AsyncClient) -> None:
        await post(
            reporter,
            [
                answer("ann", True, "2026-03-01T09:00:00Z"),
                answer("ann", True, "2026-03-03T09:00:00Z"),
                answer("ben", False, "2026-03-01T09:00:00Z"),
                answer("ben", True, "2026-03-02T09:00:00Z", score={"scaled": 0.6}),
            ],
        )

    async def curve(self, client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
        return await rows_of(client, "/analytics/memory/curve", at=AT, **params)

    async def test_one_learners_item(self, reporter: httpx.AsyncClient) -> None:
        (memory,) = await rows_of(
            reporter, "/analytics/memory", agent=agent("ann"), activity=ITEM, at=AT
        )
        points = await self.curve(reporter, agent=agent("ann"), activity=ITEM, days="14")
        assert len(points) == 15
        assert [point["day"] for point in points] == list(range(15))
        assert points[0]["at"] == "2026-03-09T09:00:00.000000Z"
        assert points[14]["at"] == "2026-03-23T09:00:00.000000Z"
        assert {point["memories"] for point in points} == {1}
        assert points[0]["retrievability"] == pytest.approx(memory["retrievability"], abs=1e-12)
        values = [point["retrievability"] for point in points]
        assert all(later <= earlier for earlier, later in pairwise(values))
        assert values[-1] < values[0] < 1.0

    async def test_the_quiz_around_the_item_has_no_curve(self, reporter: httpx.AsyncClient) -> None:
        """An item is what was recalled, not the quiz around it."""
        points = await self.curve(reporter, agent=agent("ann"), days="3")
        assert points == await self.curve(reporter, agent=agent("ann"), activity=ITEM, days="3")
        (empty,) = await self.curve(reporter, activity=QUIZ, days="0")
        assert (empty["retrievability"], empty["memories"]) == (None, 0)

    async def test_a_cohorts_curve_is_the_mean_of_its_learners(
        self, reporter: httpx.AsyncClient
    ) -> None:
        ann = await self.curve(reporter, agent=agent("ann"), activity=ITEM, days="30")
        ben = await self.curve(reporter, agent=agent("ben"), activity=ITEM, days="30")
        both = await self.curve(reporter, activity=ITEM, days="30")
        assert len(both) == 31
        assert {point["memories"] for point in both} == {2}
        assert ann[5]["retrievability"] != ben[5]["retrievability"]
        for mine, theirs, mean in zip(ann, ben, both, strict=True):
            assert mean["at"] == mine["at"] == theirs["at"]
            expected = (mine["retrievability"] + theirs["retrievability"]) / 2
            assert mean["retrievability"] == pytest.approx(expected, abs=1e-12)


CARDS = "https://cards.example.com/"


def review_statements(histories: Sequence[memory.History]) -> list[dict[str, Any]]:
    """Each item's recall events as answers by one learner."""
    return [
        said("ann", "answered", f"{CARDS}{item}", utc_timestamp(at), result={"success": correct})
        for item, history in enumerate(histories)
        for at, correct, _ in history
    ]


class TestTenantForgettingCurves:
    """Issue 8: a tenant's own FSRS parameters, where its reviews bear them out, fold its
    memories and read them in every memory view; other tenants keep the defaults, beside it
    in one roll-up."""

    async def test_each_tenant_reads_its_memories_on_its_own_curve(
        self, company: Group, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        app, names = company.app, company.names
        histories = {"sub-a": simulated_reviews([SLOW_GROWTH], seed=1)}
        histories["sub-b"] = histories["sub-a"][:20]  # too few of its own to fit
        # Each item's last review of sub-a comes after the fit, folded onto what it made.
        # The last review of sub-a's first 20 items comes after the fit and is folded onto
        # the models it made (`after` keeps the items' places: item i is histories[i]).
        later = 20
        before = dict(histories)
        before["sub-a"] = [
            history[:-1] if item < later else history
            for item, history in enumerate(histories["sub-a"])
        ]
        after = [history[-1:] for history in histories["sub-a"][:later]]

        async def store_reviews(short: str, reviews: Sequence[memory.History]) -> None:
            statements = review_statements(reviews)
            async with company.client(f"lms@{short}") as client:
                for start in range(0, len(statements), 250):
                    await post(client, statements[start : start + 250])
            await analytics.drain(app.state.sessionmaker, wait=True)

        analytics: Analytics = app.state.analytics
        for short, reviews in before.items():
            await store_reviews(short, reviews)
        async with app.state.sessionmaker() as session:
            fits = {}
            for short in histories:
                tenant = await auth_store.tenant_by_name(session, names[short])
                assert tenant is not None
                fits[short] = (await analytics.fit(session, tenant.id)).forgetting
            await session.commit()
        await store_reviews("sub-a", after)
        assert fits["sub-a"].verdict == "fitted"
        assert fits["sub-a"].parameters is not None
        assert fits["sub-b"].parameters is None
        curves = {
            names["sub-a"]: memory.Forgetting(fits["sub-a"].parameters),
            names["sub-b"]: memory.DEFAULT,
        }
        at = max(at for history in histories["sub-a"] for at, _, _ in history) + timedelta(days=1)
        expected = {}  # (tenant, item) -> the memory its tenant's curve folds
        for short, reviews in histories.items():
            curve = curves[names[short]]
            for item, history in enumerate(reviews):
                remembered = None
                for moment, correct, scaled in history:
                    remembered = curve.review(remembered, correct, scaled, moment)
                expected[names[short], f"{CARDS}{item}"] = remembered

        # At 0.9 every curve's next review is `stability` days on; at 0.8 the decay tells.
        params = {"at": utc_timestamp(at), "limit": "1000", "retention": "0.8"}
        async with company.client("analyst@group") as client:
            rows = await rows_of(client, "/analytics/memory", **params)
            due = await rows_of(client, "/analytics/memory/due", **params)
            points = await rows_of(client, "/analytics/memory/curve", at=params["at"], days="3")
        assert {(row["tenant"], row["item"]) for row in rows} == set(expected)
        for row in rows:
            remembered = expected[row["tenant"], row["item"]]
            assert remembered is not None
            curve = curves[row["tenant"]]
            assert row["stability"] == pytest.approx(remembered.stability, rel=1e-9)
            assert row["retrievability"] == pytest.approx(
                curve.retrievability(remembered, at), abs=1e-9
            )
            assert row["next_review"] == utc_timestamp(curve.next_review(remembered, 0.8))

        def due_on(curve_of: Callable[[str], memory.Forgetting]) -> set[tuple[str, str]]:
            return {
                key
                for key, remembered in expected.items()
                if remembered is not None and curve_of(key[0]).next_review(remembered, 0.8) <= at
            }

        assert {(row["tenant"], row["item"]) for row in due} == due_on(curves.__getitem__)
        assert due_on(curves.__getitem__) != due_on(lambda _: memory.DEFAULT)
        for day, point in enumerate(points):
            moment = at + timedelta(days=day)
            recalls = [
                curves[tenant].retrievability(remembered, moment)
                for (tenant, _), remembered in expected.items()
                if remembered is not None
            ]
            assert point["memories"] == len(expected)
            assert point["retrievability"] == pytest.approx(sum(recalls) / len(recalls), abs=1e-9)

        # Fitted again where the optimiser is missing (`fsrs` without torch, as it imports
        # then): the tenant's curve stays, and so do its memories.
        monkeypatch.setitem(sys.modules, "torch", None)
        monkeypatch.delitem(sys.modules, "fsrs.optimizer", raising=False)
        async with app.state.sessionmaker() as session:
            tenant = await auth_store.tenant_by_name(session, names["sub-a"])
            assert tenant is not None
            again = (await analytics.fit(session, tenant.id)).forgetting
            await session.commit()
            kept = await store.forgetting(session, [tenant.id])
        assert not again.decided
        assert kept[tenant.id].parameters == fits["sub-a"].parameters
        async with company.client("analyst@group") as client:
            assert await rows_of(client, "/analytics/memory", **params) == rows


# --- the lrs command -------------------------------------------------------------------------


def _app(database_url: str, queued: bool) -> FastAPI:
    """`queued`: the background fold all but off (an hour between looks)."""
    settings = Settings(environment="test", database_url=database_url, admin_key=None)
    if queued:
        settings = settings.model_copy(update={"analytics_poll_seconds": 3600})
    return create_app(settings)


async def store_statements(
    database_url: str, tenants: dict[str, list[dict[str, Any]]], *, queued: bool = False
) -> None:
    """Statements stored through the app into each tenant (made if new)."""
    app = _app(database_url, queued)
    async with app.router.lifespan_context(app):
        for tenant, statements in tenants.items():
            authorization, _ = await make_credential(app, [Scope.ALL], tenant)
            async with client_for(app, authorization, "2.0.0") as client:
                await post(client, statements)


async def in_database(
    database_url: str, work: Callable[[FastAPI], Awaitable[T]], *, queued: bool = False
) -> T:
    """What `work` finds or does in the database, through a started app."""
    app = _app(database_url, queued)
    async with app.router.lifespan_context(app):
        return await work(app)


async def models_by_tenant(app: FastAPI) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for model in await saved_models(app):
        found.setdefault(model["tenant_id"], []).append(model)
    return found


async def forget_models(app: FastAPI) -> None:
    async with create_sessionmaker(app.state.engine)() as session:
        await session.execute(delete(analytics_states))
        await session.execute(delete(analytics_evidence))
        await session.commit()


def corpus(names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        statement
        for name in names
        for statement in (
            answer(name, True, "2026-03-01T09:00:00Z"),
            answer(name, name != "ann", "2026-03-02T09:00:00Z"),
            said(name, "passed", QUIZ, "2026-03-02T09:05:00Z", grouping=(COURSE,)),
        )
    ]


class TestCommand:
    def test_rebuild_remakes_the_models_of_the_tenants_named(
        self, cli_database: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        cli.main(["migrate"])
        capsys.readouterr()
        asyncio.run(
            store_statements(
                cli_database, {"works": corpus(("ann", "ben")), "other": corpus(("cat",))}
            )
        )
        before = asyncio.run(in_database(cli_database, models_by_tenant))
        assert sorted(map(len, before.values())) == [3, 6]
        asyncio.run(in_database(cli_database, forget_models))

        cli.main(["analytics", "rebuild", "--tenant", "works"])
        # 6 statements; answers are evidence of item, quiz and course, passes of quiz, course.
        assert json.loads(capsys.readouterr().out) == {
            "works": {"statements": 6, "evidence": 16, "models": 6}
        }
        after = asyncio.run(in_database(cli_database, models_by_tenant))
        assert list(after.values()) == [model for model in before.values() if len(model) == 6]

        cli.main(["analytics", "rebuild"])
        done = json.loads(capsys.readouterr().out)
        assert done["other"] == {"statements": 3, "evidence": 8, "models": 3}
        assert asyncio.run(in_database(cli_database, models_by_tenant)) == before

        with pytest.raises(SystemExit, match="no tenant named 'nowhere'"):
            cli.main(["analytics", "rebuild", "--tenant", "nowhere"])

    def test_fit_sets_aside_a_queued_batch_whose_fold_raises(
        self,
        cli_database: str,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A batch still queued whose fold raises (a bug, injected) is set aside as the
        server would, and the fit learns from the rest instead of failing."""
        cli.main(["migrate"])
        capsys.readouterr()
        broken = [said("dan", "answered", "https://example.com/broken", "2026-03-01T09:00:00Z")]
        batches = [corpus(("ann", "ben", "cat")), broken]
        asyncio.run(store_statements(cli_database, {"works": batches[0]}, queued=True))
        asyncio.run(store_statements(cli_database, {"works": batches[1]}, queued=True))
        evidence_of_batch = Analytics.evidence

        def buggy(analytics: Analytics, batch: Any) -> Any:
            batch = list(batch)
            if any(
                statement["object"]["id"] == "https://example.com/broken" for statement in batch
            ):
                raise ValueError("a bug")
            return evidence_of_batch(analytics, batch)

        monkeypatch.setattr(Analytics, "evidence", buggy)
        cli.main(["analytics", "fit", "--tenant", "works"])
        fitted = json.loads(capsys.readouterr().out)["works"]["mastery"]["(tenant default)"]
        assert (fitted["sequences"], fitted["answers"]) == (6, 15)  # the three learners only

        async def set_aside(app: FastAPI) -> list[str | None]:
            async with create_sessionmaker(app.state.engine)() as session:
                return list(await session.scalars(select(analytics_queue.c.error)))

        assert asyncio.run(in_database(cli_database, set_aside, queued=True)) == [
            "ValueError('a bug')"
        ]

    def test_fit_learns_the_parameters_and_refolds(
        self, cli_database: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        cli.main(["migrate"])
        capsys.readouterr()
        asyncio.run(store_statements(cli_database, {"works": corpus(("ann", "ben", "cat"))}))
        cli.main(["analytics", "fit", "--tenant", "works"])
        printed = json.loads(capsys.readouterr().out)["works"]
        fitted = printed["mastery"]["(tenant default)"]
        # Each learner's item and quiz are sequences; the quiz adds its pass.
        assert (fitted["sequences"], fitted["answers"]) == (6, 15)
        # Three items answered a day apart: far too few reviews for a curve of their own.
        assert printed["forgetting"] == {
            "verdict": "fewer than 512 spaced reviews",
            "parameters": None,
            "spaced_reviews": 3,
            "held_out_reviews": 0,
            "held_out_log_loss": None,
            "held_out_default_log_loss": None,
        }
        parameters = bkt.Parameters(
            fitted["p_init"], fitted["p_learn"], fitted["p_slip"], fitted["p_guess"]
        )
        assert parameters != bkt.DEFAULT

        async def read(app: FastAPI) -> tuple[list[Any], list[dict[str, Any]]]:
            async with create_sessionmaker(app.state.engine)() as session:
                rows = (await session.execute(select(analytics_parameters.c.skill))).all()
            return [row.skill for row in rows], await saved_models(app)

        skills, models = asyncio.run(in_database(cli_database, read))
        assert skills == [""]  # no skill has 200 answers of its own
        ann_item = next(
            model
            for model in models
            if (model["learner"], model["activity_id"]) == (key_of("ann"), ITEM)
        )
        expected = bkt.update(bkt.update(None, True, parameters), False, parameters)
        assert ann_item["mastery"] == pytest.approx(expected, abs=1e-9)
