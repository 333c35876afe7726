"""The application factory: nothing happens at import time; engines live in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from analytics import routes as analytics_routes
from analytics.service import Analytics
from auth import routes as auth_routes
from auth.limits import RateLimiter
from auth.service import Authenticator
from cmi5 import routes as cmi5_routes
from cmi5.service import Cmi5
from documents import routes as document_routes
from documents.service import DocumentHooks
from lrs import routes
from lrs.db import create_engine, create_sessionmaker, reads_only
from lrs.errors import BadRequest, Conflict, ServiceUnavailable, Unauthorized, XAPIError
from lrs.logs import REQUEST_ID_HEADER, route_of
from lrs.middleware import (
    CONSISTENT_THROUGH,
    AlternateRequestSyntaxMiddleware,
    RequestMiddleware,
    XAPIVersionMiddleware,
)
from lrs.openapi import openapi_document
from lrs.settings import Settings
from lrs.versions import VERSION_HEADER
from statements import routes as statement_routes
from statements.service import StatementHooks
from tenancy import routes as tenancy_routes
from tenancy.retention import retention_loop
from tenancy.service import known_identities

logger = logging.getLogger("lrs")

# Allocations between the cyclic collector's young-generation runs (Python's default: 700).
# Parsing and folding statements allocates by the hundred thousand, and at 700 the collector
# took a quarter of a learner-model fold's CPU (1.2 of 4.4 s for 20,000 statements).
GC_YOUNG_THRESHOLD = 10_000


def tune_collector() -> None:
    """What is alive now (modules, routes, schemas: 120,000 objects once the app is made)
    leaves the cyclic collector's reach for good, and the collector runs less often.
    Together: 4.4 -> 2.7 s of CPU for that fold. For long-lived processes only: a test
    process would keep whatever it froze."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def create_served_app() -> FastAPI:
    """The app as each `lrs serve` worker runs it, with the collector tuned."""
    app = create_app()
    app.openapi()  # made before the first request asks, and frozen with the rest
    tune_collector()
    return app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = (settings.database_pool_size, settings.database_max_overflow)
        engine = create_engine(settings.database_url, settings.request_timeout_seconds, *pool)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        read_engine = engine
        if settings.read_database_url:
            read_engine = create_engine(
                settings.read_database_url, settings.request_timeout_seconds, *pool
            )
        app.state.read_engine = read_engine
        app.state.read_sessionmaker = create_sessionmaker(reads_only(read_engine))
        # The server's own timers work without the requests' statement timeout: a month of
        # retention can take longer. Connections are opened as used, so this is one or two.
        maintenance_engine = create_engine(settings.database_url)
        maintenance = create_sessionmaker(maintenance_engine)
        cmi5_sweep = (
            settings.cmi5_abandon_interval_seconds,
            app.state.cmi5.abandon_expired,
            "cmi5 sessions abandoned",
        )
        models = None
        if settings.analytics_enabled:
            models = asyncio.create_task(app.state.analytics.keep_current(maintenance))
        async with retention_loop(
            maintenance,
            settings.retention_interval_seconds,
            app.state.statement_hooks,
            [cmi5_sweep],
        ):
            try:
                yield
            finally:
                if models is not None:
                    models.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await models
                await engine.dispose()
                await maintenance_engine.dispose()
                if read_engine is not engine:
                    await read_engine.dispose()

    app = FastAPI(
        title="LRS",
        summary="xAPI 1.0.3 / 2.0 Learning Record Store",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.authenticator = Authenticator(
        settings.public_url, settings.credential_cache_seconds, settings.token_secret
    )
    app.state.rate_limiter = RateLimiter(
        settings.rate_limit_per_second, settings.rate_limit_burst, "requests"
    )
    app.state.failed_logins = RateLimiter(
        settings.failed_logins_per_minute / 60, settings.failed_logins_burst, "failed logins"
    )
    app.state.writer_turns = asyncio.Lock() if settings.database_url.startswith("sqlite") else None
    app.state.statement_hooks = StatementHooks(identities=[known_identities])
    app.state.document_hooks = DocumentHooks()
    app.state.cmi5 = Cmi5.configured(settings, app.state.statement_hooks)
    app.state.cmi5.install(app.state.document_hooks)
    app.state.analytics = Analytics.configured(settings)
    if settings.analytics_enabled:
        app.state.analytics.install(app.state.statement_hooks)

    app.add_exception_handler(XAPIError, _xapi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_refused)

    app.include_router(routes.router)
    app.include_router(statement_routes.router)
    app.include_router(document_routes.router)
    app.include_router(auth_routes.router)
    app.include_router(tenancy_routes.router)
    app.include_router(cmi5_routes.router)
    if settings.analytics_enabled:
        app.include_router(analytics_routes.router)

    # Added innermost first: the request middleware's own answers (408, 503, 500) carry
    # CORS headers too, and CORS answers preflights before any xAPI rule applies.
    for middleware in (XAPIVersionMiddleware, AlternateRequestSyntaxMiddleware):
        app.add_middleware(
            middleware,
            max_request_bytes=settings.max_request_bytes,
            default_version=settings.default_xapi_version,
        )
    app.add_middleware(RequestMiddleware, timeout=settings.request_timeout_seconds)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            VERSION_HEADER,
            "If-Match",
            "If-None-Match",
            "Accept-Language",
            REQUEST_ID_HEADER,
        ],
        expose_headers=[
            "ETag",
            "Last-Modified",
            VERSION_HEADER,
            CONSISTENT_THROUGH,
            REQUEST_ID_HEADER,
            "Retry-After",
        ],
    )

    def openapi() -> dict[str, Any]:
        # Made on first use: a test makes an app per test, and the document is a sixth of a
        # second of each.
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _xapi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, XAPIError)
    headers = dict(exc.headers)
    # A browser answers a Basic challenge to a script's own-origin request with a login
    # dialog, over an AU the LRS serves (and a headless one stalls); scripts say they are
    # scripts with Sec-Fetch-Mode, so only they go without the challenge.
    scripted = request.headers.get("sec-fetch-mode") in ("cors", "same-origin", "no-cors")
    if isinstance(exc, Unauthorized) and not scripted:
        headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(part) for part in first.get("loc", ()))
    return await _xapi_error(_request, XAPIError(str(first.get("msg", "invalid request")), field))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    body = {"error": {"status": exc.status_code, "message": str(exc.detail)}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _database_refused(request: Request, exc: Exception) -> JSONResponse:
    """The database's own checks, behind the service's: a value it cannot store (a NUL
    character, a string past its column, a number out of range: SQLSTATE class 22) is the
    client's 400; a unique key taken by a concurrent request between check and write
    (class 23) is a 409; a dropped connection, a deadlock or a lock timeout is a 503 to retry.
    Anything else is the service's fault."""
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    # 40001 serialization failure / replica recovery conflict, 40P01 deadlock, 55P03 lock
    # not available (lock_timeout), 57014 statement_timeout: nothing was written, the same
    # request can succeed.
    # The log names the error, not its text: that may quote a value of the request.
    what = f"{type(exc.orig).__name__} {sqlstate}".strip()
    # SQLite: another connection held the write lock past the busy timeout.
    locked = "database is locked" in str(exc.orig)
    if exc.connection_invalidated or locked or sqlstate in {"40001", "40P01", "55P03", "57014"}:
        logger.warning("database busy on %s %s: %s", request.method, route_of(request.scope), what)
        return await _xapi_error(
            request, ServiceUnavailable("the database was busy or unreachable; retry")
        )
    if isinstance(exc, IntegrityError) or sqlstate.startswith("23"):
        error: XAPIError = Conflict("a concurrent request changed the same record; try again")
    elif isinstance(exc, DataError) or sqlstate.startswith("22"):
        error = BadRequest(
            "a value is too long, out of range or holds a character the database cannot store"
        )
    else:
        raise exc  # the service's fault: RequestMiddleware answers 500
    logger.warning("database refused %s %s: %s", request.method, route_of(request.scope), what)
    return await _xapi_error(request, error)
