"""POST /oauth/token: the OAuth 2 client-credentials grant (RFC 6749 4.4) for LMS back ends
that prefer bearer tokens to sending their secret with every request."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from auth import tokens
from auth.dependencies import client_of
from auth.limits import counting_failures
from auth.models import Principal
from auth.service import Authenticator, parse_scopes
from lrs.db import DbSession
from lrs.errors import BadRequest, TooManyRequests, Unauthorized

router = APIRouter(tags=["auth"])
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(status: int, code: str, description: str) -> JSONResponse:
    """RFC 6749 5.2 error bodies, which OAuth clients parse, rather than this LRS's own."""
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    return JSONResponse(
        {"error": code, "error_description": description}, status_code=status, headers=headers
    )


@router.post(
    "/oauth/token",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def issue_token(request: Request, session: DbSession) -> JSONResponse:
    """A bearer token for the client's credential (HTTP Basic, or client_id/client_secret in
    the form), carrying the scopes asked for (default: all of the credential's)."""
    form = {
        name: values[0]
        for name, values in parse_qs((await request.body()).decode("latin-1")).items()
    }
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", "only grant_type=client_credentials is supported"
        )
    authenticator: Authenticator = request.app.state.authenticator
    try:
        with counting_failures(request.app.state.failed_logins, client_of(request)):
            principal = await _client_principal(request, session, authenticator, form)
    except Unauthorized as error:
        return _oauth_error(401, "invalid_client", error.message)
    except TooManyRequests as error:
        response = _oauth_error(429, "slow_down", error.message)
        response.headers.update(error.headers)
        return response
    try:
        asked = frozenset(parse_scopes(form.get("scope", ""), "scope")) or principal.scopes
    except BadRequest as error:
        return _oauth_error(400, "invalid_scope", error.message)
    if not asked <= principal.scopes:
        extra = " ".join(sorted(asked - principal.scopes))
        return _oauth_error(400, "invalid_scope", f"the credential does not hold: {extra}")
    settings = request.app.state.settings
    token = tokens.issue(
        principal, asked, settings.token_secret, settings.public_url, settings.token_seconds
    )
    return JSONResponse(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": settings.token_seconds,
            "scope": " ".join(sorted(asked)),
        },
        headers=_NO_STORE,
    )


async def _client_principal(
    request: Request, session: AsyncSession, authenticator: Authenticator, form: dict[str, str]
) -> Principal:
    """RFC 6749 2.3.1: client_id / client_secret in the form, or HTTP Basic."""
    if "client_id" in form:
        return await authenticator.verify_basic(
            session, form["client_id"], form.get("client_secret", "")
        )
    authorization = request.headers.get("authorization") or ""
    if not authorization.lower().startswith("basic "):
        # A token must not buy another token: that would outlive any expiry.
        raise Unauthorized("authenticate the client with HTTP Basic", "Authorization")
    return await authenticator.authenticate(session, authorization)
