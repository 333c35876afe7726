"""HTTP of cmi5 under /cmi5: courses, registrations, launch, waive, abandon, the fetch URL
and package content. Thin: parse, call the service, commit, answer."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from auth.dependencies import CurrentPrincipal
from cmi5 import store
from cmi5.service import LAUNCH_MODES, WAIVE_REASONS, Cmi5
from cmi5.store import RegistrationRow
from lrs.db import DbSession, commit
from lrs.errors import BadRequest, NotFound
from lrs.middleware import utc_timestamp
from lrs.routing import read_body
from statements.validation import parse_agent

router = APIRouter(prefix="/cmi5", tags=["cmi5"])


def _cmi5(request: Request) -> Cmi5:
    service: Cmi5 = request.app.state.cmi5
    return service


async def _upload(request: Request) -> tuple[str | None, bytes]:
    """The package as sent: a raw body, or the one file of a multipart form."""
    body = await read_body(request, request.app.state.settings.max_request_bytes, "packages")
    content_type = request.headers.get("content-type")
    if not (content_type or "").lower().startswith("multipart/form-data"):
        return content_type, body
    request._body = body  # starlette parses the form from the body already read
    async with request.form() as form:
        files = [value for value in form.values() if not isinstance(value, str)]
        if len(files) != 1:
            raise BadRequest("a multipart upload holds exactly one file, the package", "body")
        return files[0].content_type, await files[0].read()


@router.post("/courses", status_code=201)
async def import_course(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    """cmi5 6.1, 14: a `cmi5.xml` (application/xml), a zip package (application/zip) or
    either as the file of a multipart form. Re-importing a course id adds a version."""
    content_type, body = await _upload(request)
    service = _cmi5(request)
    course = await service.import_course(session, principal, content_type, body)
    await commit(session)
    return JSONResponse(service.describe_course(course), status_code=201)


@router.get("/courses")
async def list_courses(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    course_id: Annotated[str | None, Query(alias="id")] = None,
) -> list[dict[str, Any]]:
    service = _cmi5(request)
    return [
        service.describe_course(c) for c in await service.courses(session, principal, course_id)
    ]


@router.get("/content/{content_key}/{path:path}")
async def content(session: DbSession, content_key: uuid.UUID, path: str) -> Response:
    """A package's files, for AUs whose url is relative (cmi5 14.1). Browsers open AUs
    without credentials; the content key is unguessable."""
    found = await store.content_file(session, content_key, path)
    if found is None:
        raise NotFound("no such file in the package", "path")
    content_type, data = found
    return Response(data, media_type=content_type)


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course: str = Field(description="the course's publisher id")
    actor: dict[str, Any] = Field(description="the learner: an Agent with an account")
    version: StrictInt | None = Field(default=None, ge=1, description="default: the newest")


def _summary(registration: RegistrationRow) -> dict[str, Any]:
    return {
        "id": str(registration.id),
        "course": registration.course.course.id,
        "version": registration.course.version,
        "actor": registration.actor,
        "created": utc_timestamp(registration.created_at),
    }


@router.post("/registrations", status_code=201)
async def create_registration(
    request: Request, session: DbSession, principal: CurrentPrincipal, body: RegistrationCreate
) -> JSONResponse:
    service = _cmi5(request)
    registration = await service.create_registration(
        session, principal, course_id=body.course, actor=body.actor, version=body.version
    )
    status = await service.status(session, registration)
    await commit(session)
    return JSONResponse(status, status_code=201)


@router.get("/registrations")
async def list_registrations(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    agent: str | None = None,
    course: str | None = None,
) -> list[dict[str, Any]]:
    found = await _cmi5(request).registrations(
        session,
        principal,
        actor=parse_agent(agent) if agent is not None else None,
        course_id=course,
    )
    return [_summary(registration) for registration in found]


@router.get("/registrations/{registration_id}")
async def registration_status(
    request: Request, session: DbSession, principal: CurrentPrincipal, registration_id: uuid.UUID
) -> dict[str, Any]:
    service = _cmi5(request)
    return await service.status(
        session, await service.registration(session, principal, registration_id)
    )


class LaunchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    au: str = Field(description="the AU's publisher id")
    launch_mode: str = Field(default="Normal", alias="launchMode", examples=list(LAUNCH_MODES))
    return_url: str | None = Field(default=None, alias="returnURL")


@router.post("/registrations/{registration_id}/launch")
async def launch(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    registration_id: uuid.UUID,
    body: LaunchRequest,
) -> dict[str, str]:
    """cmi5 8.1: the URL that opens the AU, and how (launchMethod)."""
    launched = await _cmi5(request).launch(
        session,
        principal,
        registration_id,
        au_id=body.au,
        launch_mode=body.launch_mode,
        return_url=body.return_url,
    )
    await commit(session)
    return {
        "url": launched.url,
        "launchMethod": launched.launch_method,
        "sessionId": str(launched.session_id),
        "activityId": launched.activity_id,
    }


class WaiveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    au: str = Field(description="the AU's publisher id")
    reason: str = Field(examples=list(WAIVE_REASONS))


@router.post("/registrations/{registration_id}/waive")
async def waive(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    registration_id: uuid.UUID,
    body: WaiveRequest,
) -> dict[str, Any]:
    service = _cmi5(request)
    await service.waive(session, principal, registration_id, au_id=body.au, reason=body.reason)
    status = await service.status(
        session, await service.registration(session, principal, registration_id)
    )
    await commit(session)
    return status


@router.post("/sessions/{session_id}/abandon", status_code=204)
async def abandon(
    request: Request, session: DbSession, principal: CurrentPrincipal, session_id: uuid.UUID
) -> Response:
    await _cmi5(request).abandon(session, principal, session_id)
    await commit(session)
    return Response(status_code=204)


@router.post("/fetch/{session_id}/{secret}")
async def fetch(request: Request, session: DbSession, session_id: str, secret: str) -> Response:
    """cmi5 8.2: 200 and JSON whatever happens: the token once, then an error code."""
    try:
        parsed = uuid.UUID(session_id)
    except ValueError:
        answer = {"error-code": "2", "error-text": "this fetch URL names no session"}
    else:
        answer = await _cmi5(request).fetch(session, parsed, secret)
        await commit(session)
    return Response(
        json.dumps(answer),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
