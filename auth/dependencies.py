"""The auth dependency: every xAPI resource but /about runs behind it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from auth.limits import RateLimiter, counting_failures
from auth.models import Principal
from auth.service import Authenticator
from lrs.db import get_session


async def get_principal(
    request: Request, session: Annotated[AsyncSession, Depends(get_session)]
) -> Principal:
    """The request's principal, checked and counted against the limits. The statement
    writes call it themselves (statements.routes._writer), so a dependency override of it
    does not reach them."""
    authenticator: Authenticator = request.app.state.authenticator
    with counting_failures(request.app.state.failed_logins, client_of(request)):
        principal = await authenticator.authenticate(session, request.headers.get("authorization"))
    request.state.credential = principal.key  # for the access log
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.admit(principal.key)
    return principal


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
