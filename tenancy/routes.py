"""The admin API under /admin: tenants, credentials, directory, audit log, erasure and
retention. Thin: parse, check the scope, call the service, commit, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from auth.dependencies import CurrentPrincipal
from auth.models import Principal, Scope
from auth.service import MAX_RETENTION_DAYS
from auth.store import TenantRow
from lrs.db import DbSession, commit
from lrs.errors import PayloadTooLarge
from lrs.params import Timestamp
from tenancy import service
from tenancy.service import Actor, CredentialRequest, ErasureRequest

router = APIRouter(prefix="/admin", tags=["admin"])


async def _actor(
    request: Request, session: DbSession, principal: Principal, *scopes: Scope
) -> Actor:
    """The caller as an administrator: it needs one of `scopes` (default: admin)."""
    principal.require(*(scopes or (Scope.ADMIN,)))
    source = request.client.host if request.client else "unknown"
    return await service.actor_for(session, principal, source)


def _names(tenants: list[TenantRow]) -> dict[int, str]:
    return {tenant.id: tenant.name for tenant in tenants}


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    # Default: the calling credential's own tenant.
    parent: str | None = None
    retention_days: StrictInt | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: StrictInt | None = Field(ge=1, le=MAX_RETENTION_DAYS)


@router.get("/tenants")
async def list_tenants(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> list[dict[str, Any]]:
    """The calling admin's tenant and every tenant below it."""
    actor = await _actor(request, session, principal)
    tenants = await service.list_tenants(session, actor)
    names = _names(tenants)
    return [service.tenant_json(tenant, names) for tenant in tenants]


@router.post("/tenants", status_code=201)
async def create_tenant(
    body: TenantCreate, request: Request, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    actor = await _actor(request, session, principal)
    tenant = await service.create_tenant(
        session, actor, body.name, body.parent, body.retention_days
    )
    await commit(session)
    # Roll-up credentials above the new tenant must see it.
    request.app.state.authenticator.forget()
    names = _names(await service.list_tenants(session, actor))
    return service.tenant_json(tenant, names)


@router.patch("/tenants/{name}")
async def update_tenant(
    name: str, body: TenantUpdate, request: Request, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    actor = await _actor(request, session, principal)
    tenant = await service.set_retention(session, actor, name, body.retention_days)
    await commit(session)
    names = _names(await service.list_tenants(session, actor))
    return service.tenant_json(tenant, names)


@router.get("/credentials")
async def list_credentials(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> list[dict[str, Any]]:
    """Credentials of the calling admin's subtree; secrets are never shown again."""
    actor = await _actor(request, session, principal)
    return [
        service.credential_json(row, tenant)
        for row, tenant in await service.list_credentials(session, actor)
    ]


@router.post("/credentials", status_code=201)
async def create_credential(
    body: CredentialRequest, request: Request, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    """A new credential; the answer is the only place its secret appears."""
    actor = await _actor(request, session, principal)
    made = await service.create_credential(session, actor, body)
    await commit(session)
    return {**service.credential_json(made.row, body.tenant), "secret": made.secret}


@router.get("/credentials/{key}")
async def get_credential(
    key: str, request: Request, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    actor = await _actor(request, session, principal)
    row, tenant = await service.administered_credential(session, actor, key)
    return service.credential_json(row, tenant.name)


@router.post("/credentials/{key}/revoke")
async def revoke_credential(
    key: str, request: Request, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    actor = await _actor(request, session, principal)
    row, tenant = await service.revoke_credential(session, actor, key)
    await commit(session)
    request.app.state.authenticator.forget()
    return service.credential_json(row, tenant.name)


@router.get("/directory/{tenant}")
async def list_people(
    tenant: str,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    org_unit: str | None = None,
    audience: str | None = None,
) -> list[dict[str, Any]]:
    actor = await _actor(request, session, principal)
    people = await service.list_people(session, actor, tenant, org_unit=org_unit, audience=audience)
    return [service.person_json(person, tenant) for person in people]


@router.put("/directory/{tenant}/{external_id}")
async def put_person(
    tenant: str,
    external_id: str,
    body: dict[str, Any],
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    actor = await _actor(request, session, principal)
    person = await service.put_person(session, actor, tenant, {**body, "external_id": external_id})
    await commit(session)
    return service.person_json(person, tenant)


@router.delete("/directory/{tenant}/{external_id}", status_code=204)
async def delete_person(
    tenant: str, external_id: str, request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    actor = await _actor(request, session, principal)
    await service.delete_person(session, actor, tenant, external_id)
    await commit(session)
    return Response(status_code=204)


@router.post(
    "/directory/{tenant}/import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
)
async def import_people(
    tenant: str, request: Request, session: DbSession, principal: CurrentPrincipal
) -> dict[str, int]:
    """Adds or updates directory entries from CSV or JSON; one bad entry rejects them all."""
    actor = await _actor(request, session, principal)
    limit: int = request.app.state.settings.max_request_bytes
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes", "body")
    entries = service.parse_directory(request.headers.get("content-type"), bytes(body))
    imported = await service.import_people(session, actor, tenant, entries)
    await commit(session)
    return {"imported": imported}


@router.get("/audit")
async def audit_log(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    since: Timestamp | None = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Admin actions in the caller's subtree, newest first (scope audit/read or admin)."""
    actor = await _actor(request, session, principal, Scope.AUDIT_READ, Scope.ADMIN)
    return await service.audit(session, actor, since=since, action=action, limit=limit)


@router.post("/erasure")
async def erase_learner(
    body: ErasureRequest, request: Request, session: DbSession, principal: CurrentPrincipal
) -> dict[str, int]:
    actor = await _actor(request, session, principal)
    settings = request.app.state.settings
    counts = await service.erase(
        session,
        actor,
        body,
        settings.token_secret,
        settings.public_url,
        request.app.state.statement_hooks,
    )
    await commit(session)
    return counts


@router.post("/retention/apply")
async def apply_retention(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    """Applies the retention policies of the caller's subtree now (the server also does so
    every LRS_RETENTION_INTERVAL_SECONDS)."""
    actor = await _actor(request, session, principal)
    results = await service.apply_retention(session, actor, request.app.state.statement_hooks)
    await commit(session)
    return JSONResponse(results)
