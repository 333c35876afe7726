"""HTTP of the Statement resource (xAPI-Communication 2.1): parse, call the service, answer."""

from __future__ import annotations

import json
import uuid
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from auth.dependencies import CurrentPrincipal, get_principal
from auth.models import Principal
from lrs.db import ReadSession, commit, get_session, read_through, writer_turn
from lrs.errors import BadRequest, XAPIError
from lrs.middleware import CONSISTENT_THROUGH, utc_timestamp
from lrs.params import check_parameter_names
from lrs.routing import documented_parameters, get_and_head
from statements import service
from statements.attachments import build_multipart_mixed
from statements.models import QUERY_PARAMETERS, parse_statement_query
from statements.validation import is_iri, parse_agent

router = APIRouter(prefix="/xapi", tags=["statements"])

STATEMENTS_PATH = "/xapi/statements"


def _statement_body() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {}},
                "multipart/mixed": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }


async def _writer(request: Request) -> tuple[AsyncSession, Principal]:
    """The session and principal other routes take as dependencies, called here directly:
    on the statement writes, the hot path, FastAPI's resolving of the two cost about 40 µs
    of a worker's CPU a request, a tenth of a single POST in process (three alternating
    rounds of 3,000: 441-460 µs per POST with them, 396-429 without)."""
    session = await get_session(request)
    return session, await get_principal(request, session)


async def _store(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    statement_id: uuid.UUID | None = None,
) -> list[str]:
    """The request's statements stored and committed, in this worker's turn to write."""
    body = await request.body()
    async with writer_turn(request, session):
        ids = await service.store_statements(
            session,
            principal,
            request.state.xapi_version,
            request.app.state.statement_hooks,
            content_type=request.headers.get("content-type"),
            body=body,
            max_batch=request.app.state.settings.max_batch_statements,
            max_attachment_bytes=request.app.state.settings.max_attachment_bytes,
            statement_id=statement_id,
        )
        await commit(session)
    return ids


@router.put(
    "/statements",
    status_code=204,
    response_class=Response,
    openapi_extra=documented_parameters(("statementId",), ("statementId",)) | _statement_body(),
)
async def put_statement(request: Request) -> Response:
    session, principal = await _writer(request)
    pairs = list(request.query_params.multi_items())
    check_parameter_names([name for name, _ in pairs], ("statementId",))
    query = parse_statement_query(pairs) if pairs else None
    if query is None or query.statement_id is None:
        raise BadRequest("PUT needs the statementId parameter", "statementId")
    await _store(request, session, principal, query.statement_id)
    return Response(status_code=204)


@router.post("/statements", response_model=list[str], openapi_extra=_statement_body())
async def post_statements(request: Request) -> Response:
    session, principal = await _writer(request)
    check_parameter_names(list(request.query_params.keys()), ())
    ids = await _store(request, session, principal)
    return Response(json.dumps(ids), media_type="application/json")


@get_and_head(
    router,
    "/statements",
    response_class=Response,
    openapi_extra=documented_parameters(QUERY_PARAMETERS),
)
async def get_statements(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    query = parse_statement_query(list(request.query_params.multi_items()))
    through = await read_through(request, session)
    try:
        answer = await service.get_statements(
            session,
            principal,
            query,
            accept_language=request.headers.get("accept-language"),
            max_limit=request.app.state.settings.max_query_limit,
            more_url=STATEMENTS_PATH,
            through=through,
        )
    except XAPIError as error:
        # A 404 from a lagging replica says how far it is, not "now".
        error.headers[CONSISTENT_THROUGH] = utc_timestamp(through)
        raise
    headers = {CONSISTENT_THROUGH: utc_timestamp(answer.consistent_through)}
    if answer.last_modified is not None:
        headers["Last-Modified"] = format_datetime(answer.last_modified, usegmt=True)
    if query.attachments:
        content_type, body = build_multipart_mixed(answer.body, answer.parts)
        return Response(body, media_type=content_type, headers=headers)
    return Response(answer.body, media_type="application/json", headers=headers)


@get_and_head(
    router,
    "/activities",
    tags=["activities"],
    response_class=Response,
    openapi_extra=documented_parameters(("activityId",), ("activityId",)),
)
async def get_activity(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    params = _required_only(request, "activityId")
    if not is_iri(params["activityId"]):
        raise BadRequest(f"activityId must be an IRI, not {params['activityId']!r}", "activityId")
    activity = await service.get_activity(session, principal, params["activityId"])
    return Response(json.dumps(activity), media_type="application/json")


@get_and_head(
    router,
    "/agents",
    tags=["agents"],
    response_class=Response,
    openapi_extra=documented_parameters(("agent",), ("agent",)),
)
async def get_agent(
    request: Request, session: ReadSession, principal: CurrentPrincipal
) -> Response:
    params = _required_only(request, "agent")
    person = await service.get_person(
        session, principal, parse_agent(params["agent"]), request.app.state.statement_hooks
    )
    return Response(json.dumps(person), media_type="application/json")


def _required_only(request: Request, name: str) -> dict[str, str]:
    pairs = list(request.query_params.multi_items())
    check_parameter_names([key for key, _ in pairs], (name,))
    if not pairs:
        raise BadRequest(f"the {name} parameter is required", name)
    return dict(pairs)
