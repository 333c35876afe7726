"""The learner-model views under /analytics, for LMS back ends and analysts: JSON by
default, CSV with `format=csv`. Thin: parse, check the scope, call the view, answer."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from analytics import views
from analytics.service import ViewRequest, view_scope
from analytics.store import Cursor, ModelFilter
from auth.dependencies import CurrentPrincipal
from lrs.db import ReadSession
from lrs.errors import BadRequest
from lrs.params import check_parameter_names
from lrs.routing import documented_parameters, get_and_head
from statements.validation import parse_timestamp

router = APIRouter(prefix="/analytics", tags=["analytics"])

SCOPE_PARAMETERS = (
    "agent", "activity", "tenant", "org_unit", "job_role", "audience", "since", "until",
    "format",
)  # fmt: skip
PAGE_PARAMETERS = ("limit", "after")
MEMORY_PARAMETERS = ("at", "retention")
MAX_LIMIT = 1000


def _number(raw: str, name: str, low: float, high: float, *, whole: bool = False) -> float:
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise BadRequest(f"{name} must be {kind}", name) from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must lie between {low:g} and {high:g}", name)
    return value


def _cursor(raw: str) -> Cursor:
    try:
        tenant_id, learner, activity = json.loads(base64.urlsafe_b64decode(raw.encode()))
        if not isinstance(tenant_id, int) or not 0 < tenant_id < 2**31:
            raise ValueError("not a tenant id")
        return tenant_id, str(learner), str(activity)
    except (ValueError, TypeError):
        raise BadRequest("after is not a cursor this LRS handed out", "after") from None


def _encode(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode()


def _parse(request: Request, allowed: tuple[str, ...]) -> ViewRequest:
    params = request.query_params
    check_parameter_names([name for name, _ in params.multi_items()], allowed)
    fmt = params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format is json or csv", "format")
    return ViewRequest(
        agent=params.get("agent"),
        activity=params.get("activity"),
        tenant=params.get("tenant"),
        org_unit=params.get("org_unit"),
        job_role=params.get("job_role"),
        audience=params.get("audience"),
        since=parse_timestamp(params["since"], "since") if "since" in params else None,
        until=parse_timestamp(params["until"], "until") if "until" in params else None,
        limit=int(_number(params.get("limit", "100"), "limit", 1, MAX_LIMIT, whole=True)),
        after=_cursor(params["after"]) if "after" in params else None,
        at=parse_timestamp(params["at"], "at") if "at" in params else datetime.now(UTC),
        retention=_number(params.get("retention", "0.9"), "retention", 0.01, 0.99),
        days=int(_number(params.get("days", "30"), "days", 0, 3650, whole=True)),
        csv=fmt == "csv",
    )


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


_BACKLOG_HEADERS = {"pending": "LRS-Pending", "set_aside": "LRS-Set-Aside"}


def _answer(request: Request, table: views.Table, csv_format: bool) -> Response:
    more = None
    if table.next_after is not None:
        params = dict(request.query_params) | {"after": _encode(table.next_after)}
        more = f"{request.url.path}?{urlencode(params)}"
    # What the models did not hold when the view was read, said only when there is some.
    backlog = {name: n for name, n in asdict(request.state.backlog).items() if n}
    if not csv_format:
        return JSONResponse({"rows": table.rows, "more": more, **table.meta, **backlog})
    text = io.StringIO()
    writer = csv.DictWriter(text, table.columns, lineterminator="\n")
    writer.writeheader()
    for row in table.rows:
        writer.writerow({name: _csv_value(value) for name, value in row.items()})
    headers = {"Link": f'<{more}>; rel="next"'} if more else {}
    for name, count in backlog.items():
        headers[_BACKLOG_HEADERS[name]] = str(count)
    return Response(text.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


async def _scope(
    request: Request, session: ReadSession, principal: CurrentPrincipal, allowed: tuple[str, ...]
) -> tuple[ViewRequest, ModelFilter, dict[int, str]]:
    wanted = _parse(request, allowed)
    scope, names = await view_scope(session, principal, wanted)
    # Statements stored before the view was asked count in it, queued or not, unless folding
    # them takes longer than the view's budget or raised: the answer says how many do not.
    analytics = request.app.state.analytics
    await analytics.drain(
        request.app.state.sessionmaker,
        scope.tenant_ids,
        wait=True,
        seconds=analytics.view_fold_seconds,
    )
    request.state.backlog = await analytics.backlog(session, scope.tenant_ids)
    return wanted, scope, names


# A summary view: the models in scope and the fewest observations that are not "few".
Summary = Callable[[AsyncSession, ModelFilter, int], Awaitable[views.Table]]


def _minimum(request: Request) -> int:
    return int(request.app.state.settings.analytics_min_observations)


_LIST = SCOPE_PARAMETERS + PAGE_PARAMETERS
_MEMORY = _LIST + MEMORY_PARAMETERS
_CURVE = (*SCOPE_PARAMETERS, "at", "days")


@get_and_head(router, "/progress", openapi_extra=documented_parameters(_LIST))
async def progress(request: Request, session: ReadSession, principal: CurrentPrincipal) -> Response:
    """Per learner and Activity: status, completion %, time spent, last activity."""
    wanted, scope, names = await _scope(request, session, principal, _LIST)
    table = await views.progress(session, scope, names, wanted.after, wanted.limit)
    return _answer(request, table, wanted.csv)


async def _summary(
    request: Request, session: ReadSession, principal: CurrentPrincipal, view: Summary
) -> Response:
    wanted, scope, _ = await _scope(request, session, principal, SCOPE_PARAMETERS)
    return _answer(request, await view(session, scope, _minimum(request)), wanted.csv)


@get_and_head(router, "/progress/summary", openapi_extra=documented_parameters(SCOPE_PARAMETERS))
async def progress_summary(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    """Per Activity over the learners in scope: completion and pass rates, retakes."""
    return await _summary(request, session, principal, views.progress_summary)


_COURSE = ("course", "agent", "tenant", "org_unit", "job_role", "audience", "format")


def _course_id(request: Request) -> str:
    course_id = request.query_params.get("course")
    if not course_id:
        raise BadRequest("course is required: the id of a cmi5 course", "course")
    return course_id


@get_and_head(
    router,
    "/progress/course",
    openapi_extra=documented_parameters(_COURSE + PAGE_PARAMETERS, ("course",)),
)
async def course_progress(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    """Per learner registered in a cmi5 course: each node of its structure (course, blocks,
    AUs) with status, satisfaction, completion %, time spent, last activity. `limit`
    counts learners."""
    wanted, scope, names = await _scope(request, session, principal, _COURSE + PAGE_PARAMETERS)
    courses = request.app.state.cmi5
    table = await views.course_progress(
        session, scope, names, courses, _course_id(request), wanted.after, wanted.limit
    )
    return _answer(request, table, wanted.csv)


@get_and_head(
    router, "/progress/course/summary", openapi_extra=documented_parameters(_COURSE, ("course",))
)
async def course_summary(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    """Per node of a cmi5 course over the learners registered in scope: started, satisfied,
    mean completion and time."""
    wanted, scope, _ = await _scope(request, session, principal, _COURSE)
    table = await views.course_summary(
        session, scope, request.app.state.cmi5, _course_id(request), _minimum(request)
    )
    return _answer(request, table, wanted.csv)


@get_and_head(router, "/evaluation", openapi_extra=documented_parameters(SCOPE_PARAMETERS))
async def evaluation(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    """Per course or test over the learners in scope: survey (reaction) scores, pre/post-test
    normalised gain, pass rates and retakes, performance indicators against the post-test."""
    return await _summary(request, session, principal, views.evaluation)


@get_and_head(router, "/mastery", openapi_extra=documented_parameters(_LIST))
async def mastery(request: Request, session: ReadSession, principal: CurrentPrincipal) -> Response:
    """Per learner and skill: the probability of mastery (BKT) and the answers behind it."""
    wanted, scope, names = await _scope(request, session, principal, _LIST)
    table = await views.mastery(
        session, scope, names, wanted.after, wanted.limit, _minimum(request)
    )
    return _answer(request, table, wanted.csv)


@get_and_head(router, "/mastery/summary", openapi_extra=documented_parameters(SCOPE_PARAMETERS))
async def mastery_summary(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    """Per skill over the learners in scope: mean mastery, mastered share, distribution."""
    return await _summary(request, session, principal, views.mastery_summary)


async def _memories(
    request: Request, session: ReadSession, principal: CurrentPrincipal, due_only: bool
) -> Response:
    wanted, scope, names = await _scope(request, session, principal, _MEMORY)
    table = await views.memories(
        session,
        scope,
        names,
        wanted.after,
        wanted.limit,
        at=wanted.at,
        retention=wanted.retention,
        min_observations=_minimum(request),
        due_only=due_only,
    )
    return _answer(request, table, wanted.csv)


@get_and_head(router, "/memory", openapi_extra=documented_parameters(_MEMORY))
async def memory(request: Request, session: ReadSession, principal: CurrentPrincipal) -> Response:
    """Per learner and item: recall probability at `at` (default now), stability,
    difficulty, and the next review for a target `retention` (default 0.9)."""
    return await _memories(request, session, principal, due_only=False)


@get_and_head(router, "/memory/due", openapi_extra=documented_parameters(_MEMORY))
async def memory_due(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    """The review list: items whose recall has fallen to `retention` by `at`."""
    return await _memories(request, session, principal, due_only=True)


@get_and_head(router, "/memory/curve", openapi_extra=documented_parameters(_CURVE))
async def memory_curve(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    """Mean recall probability from `at` over the next `days` days (default 30): one
    learner's item (`agent` and `activity`), or a cohort's retention curve."""
    wanted, scope, _ = await _scope(request, session, principal, _CURVE)
    table = await views.retention_curve(session, scope, wanted.at, wanted.days)
    return _answer(request, table, wanted.csv)
