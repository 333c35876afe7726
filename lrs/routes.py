"""Resources of the service shell: About (xAPI-Communication 2.8) and liveness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lrs.params import check_parameter_names
from lrs.routing import get_and_head
from lrs.versions import XAPIVersion

router = APIRouter()


@get_and_head(router, "/xapi/about", tags=["about"])
async def about(request: Request) -> JSONResponse:
    """Unauthenticated (Communication 2.8.s5.b3); the newest patch of each version spoken."""
    check_parameter_names(list(request.query_params.keys()), ())
    return JSONResponse({"version": [version.value for version in XAPIVersion]})


@router.get("/health", tags=["service"])
async def health() -> dict[str, str]:
    return {"status": "ok"}
