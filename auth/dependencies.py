"""The auth dependency: every xAPI resource but /about runs behind it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Principal
from auth.service import Authenticator
from lrs.db import get_session


async def get_principal(
    request: Request, session: Annotated[AsyncSession, Depends(get_session)]
) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.authenticate(session, request.headers.get("authorization"))


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
