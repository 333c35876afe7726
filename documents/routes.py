"""HTTP of the document resources: /activities/state, /activities/profile, /agents/profile.

The three differ only in their parameters, so one set of handlers serves each of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from auth.dependencies import CurrentPrincipal
from documents import service
from documents.service import (
    Action,
    DocumentAccess,
    DocumentKind,
    DocumentScope,
    Preconditions,
    parse_etags,
)
from documents.store import StoredDocument
from lrs.db import DbSession, commit, writer_turn
from lrs.errors import BadRequest
from lrs.params import check_parameter_names
from lrs.routing import documented_parameters, read_body
from statements.validation import agent_ifi, is_iri, is_uuid, parse_agent, parse_timestamp

_MAX_ID_LENGTH = 1024


@dataclass(frozen=True)
class DocumentResource:
    path: str
    kind: DocumentKind
    id_parameter: str
    scope_parameters: tuple[str, ...]  # required ones, then "registration" if allowed
    required: tuple[str, ...]


STATE = DocumentResource(
    "/activities/state",
    DocumentKind.STATE,
    "stateId",
    ("activityId", "agent", "registration"),
    ("activityId", "agent"),
)
ACTIVITY_PROFILE = DocumentResource(
    "/activities/profile",
    DocumentKind.ACTIVITY_PROFILE,
    "profileId",
    ("activityId",),
    ("activityId",),
)
AGENT_PROFILE = DocumentResource(
    "/agents/profile", DocumentKind.AGENT_PROFILE, "profileId", ("agent",), ("agent",)
)


@dataclass(frozen=True)
class Target:
    scope: DocumentScope
    document_id: str | None
    since: datetime | None


def _target(request: Request, resource: DocumentResource, *, list_allowed: bool) -> Target:
    """Validates the parameters (xAPI-Communication 2.3-2.7 tables; 3.2.s3.b7 unknown → 400)."""
    pairs = list(request.query_params.multi_items())
    allowed = (*resource.scope_parameters, resource.id_parameter, "since")
    check_parameter_names([name for name, _ in pairs], allowed)
    params = dict(pairs)
    for name in resource.required:
        if name not in params:
            raise BadRequest(f"the {name} parameter is required", name)
    document_id = params.get(resource.id_parameter)
    if document_id is None and not list_allowed:
        raise BadRequest(
            f"the {resource.id_parameter} parameter is required", resource.id_parameter
        )
    if document_id is not None and len(document_id) > _MAX_ID_LENGTH:
        raise BadRequest(
            f"{resource.id_parameter} is longer than {_MAX_ID_LENGTH}", resource.id_parameter
        )
    if "since" in params and (document_id is not None or request.method not in ("GET", "HEAD")):
        raise BadRequest(f"since only applies to a GET without {resource.id_parameter}", "since")
    activity_id = params.get("activityId")
    if activity_id is not None and not is_iri(activity_id):
        raise BadRequest(f"activityId must be an IRI, not {activity_id!r}", "activityId")
    registration = params.get("registration")
    if registration is not None and not is_uuid(registration):
        raise BadRequest(f"registration must be a UUID, not {registration!r}", "registration")
    agent = agent_ifi(parse_agent(params["agent"])) if "agent" in params else None
    since = (
        parse_timestamp(params["since"].replace(" ", "+"), "since") if "since" in params else None
    )
    scope = DocumentScope(
        kind=resource.kind,
        activity_id=activity_id,
        agent=agent,
        registration=uuid.UUID(registration) if registration is not None else None,
    )
    return Target(scope, document_id, since)


def _preconditions(request: Request) -> Preconditions:
    return Preconditions(
        if_match=parse_etags(request.headers.get("if-match")),
        if_none_match=parse_etags(request.headers.get("if-none-match")),
    )


def _document_headers(document: StoredDocument) -> dict[str, str]:
    return {
        "ETag": f'"{document.etag}"',
        "Last-Modified": format_datetime(document.updated, usegmt=True),
    }


Handler = Callable[..., Awaitable[Response]]


async def _check(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    target: Target,
    action: Action,
) -> None:
    await service.check_access(
        session,
        principal,
        request.app.state.document_hooks,
        DocumentAccess(target.scope, target.document_id, action),
    )


def _handlers(resource: DocumentResource) -> dict[str, Handler]:
    async def get(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
        target = _target(request, resource, list_allowed=True)
        await _check(request, session, principal, target, Action.READ)
        if session.info.pop("commit_read", False):
            await commit(session)
        if target.document_id is None:
            ids, newest = await service.list_documents(
                session, principal, target.scope, target.since
            )
            headers = {"Last-Modified": format_datetime(newest, usegmt=True)} if newest else None
            return JSONResponse(ids, headers=headers)
        document = await service.get_document(session, principal, target.scope, target.document_id)
        return Response(
            document.content, media_type=document.content_type, headers=_document_headers(document)
        )

    async def write(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
        target = _target(request, resource, list_allowed=False)
        assert target.document_id is not None
        await _check(request, session, principal, target, Action.WRITE)
        content = await read_body(
            request, request.app.state.settings.max_document_bytes, "documents"
        )
        async with writer_turn(request, session):
            document = await service.write_document(
                session,
                principal,
                request.state.xapi_version,
                target.scope,
                target.document_id,
                merge=request.method == "POST",
                content_type=request.headers.get("content-type"),
                content=content,
                preconditions=_preconditions(request),
            )
            await commit(session)
        return Response(status_code=204, headers={"ETag": f'"{document.etag}"'})

    async def delete(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
        target = _target(request, resource, list_allowed=resource.kind is DocumentKind.STATE)
        await _check(request, session, principal, target, Action.DELETE)
        async with writer_turn(request, session):
            if target.document_id is None:
                await service.delete_documents(session, principal, target.scope)
            else:
                await service.delete_document(
                    session, principal, target.scope, target.document_id, _preconditions(request)
                )
            await commit(session)
        return Response(status_code=204)

    return {"get": get, "write": write, "delete": delete}


def _build_router() -> APIRouter:
    router = APIRouter(prefix="/xapi", tags=["documents"])
    for resource in (STATE, ACTIVITY_PROFILE, AGENT_PROFILE):
        handlers = _handlers(resource)
        extra = documented_parameters(
            (*resource.scope_parameters, resource.id_parameter, "since"), resource.required
        )
        for method, handler, status in (
            ("GET", handlers["get"], 200),
            ("HEAD", handlers["get"], 200),
            ("PUT", handlers["write"], 204),
            ("POST", handlers["write"], 204),
            ("DELETE", handlers["delete"], 204),
        ):
            router.add_api_route(
                resource.path,
                handler,
                methods=[method],
                name=f"{method.lower()}_{resource.kind.value}",
                response_class=Response,
                status_code=status,
                openapi_extra=extra,
                include_in_schema=method != "HEAD",
            )
    return router


router = _build_router()
