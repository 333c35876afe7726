"""Rules that hold for every request, as plain ASGI middleware.

- `RequestMiddleware` (inside CORS only): the request id, the deadline, the access log line,
  the 500 for anything no handler turned into an answer, and closing the request's sessions.
- `XAPIVersionMiddleware`: `X-Experience-API-Version` on every request (but /about) and response,
  `X-Experience-API-Consistent-Through` on every Statement resource response, the body size limit.
- `AlternateRequestSyntaxMiddleware`: xAPI 1.0.3's `?method=` form posts, rewritten into the
  request they stand for before anything else sees them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from lrs.db import DEADLINE, close_request_sessions
from lrs.errors import (
    BadRequest,
    PayloadTooLarge,
    RequestTimeout,
    ServiceUnavailable,
    XAPIError,
)
from lrs.logs import REQUEST_ID, REQUEST_ID_HEADER, elapsed_ms, request_id_for, route_of
from lrs.versions import VERSION_HEADER, XAPIVersion, parse_version_header

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

XAPI_PREFIX = "/xapi"
CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"
_VERSION_FREE = {f"{XAPI_PREFIX}/about", f"{XAPI_PREFIX}/about/"}
_STATEMENTS = f"{XAPI_PREFIX}/statements"


def utc_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds, the form this LRS writes every timestamp in."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def send_error(send: Send, error: XAPIError, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(error.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


access_log = logging.getLogger("lrs.access")
error_log = logging.getLogger("lrs")


class RequestMiddleware:
    """Gives each request an id (answered in X-Request-ID, written into its log lines), a
    deadline (`timeout` seconds, 0 for none) and one access log line. A request past its
    deadline is a 408 while the client is still sending its body, else a 503; either way the
    task running it is cancelled, and what it had not committed is rolled back when its
    sessions close (a request that began to commit is no longer bound by it: lrs.db.commit).
    The sessions close once the request has been answered, whatever the answer. An
    exception no handler answered is a 500 that says nothing of the exception."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_for(_header(scope, REQUEST_ID_HEADER.lower().encode()))
        token = REQUEST_ID.set(request_id)
        status = 0
        receiving = False

        async def receive_tracked() -> Message:
            nonlocal receiving
            receiving = True  # still set if the deadline cancels the wait
            message = await receive()
            receiving = False
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                ]
            await send(message)

        def own_answer(error: XAPIError) -> Awaitable[None]:
            headers = _encoded(error.headers)
            version = scope.get("state", {}).get("xapi_version")
            if version is not None:
                headers.append((VERSION_HEADER.lower().encode(), version.value.encode()))
            return send_error(send_tracked, error, headers)

        deadline = asyncio.timeout(self.timeout or None)
        try:
            async with deadline:
                DEADLINE.set(deadline)  # lrs.db.lift_deadline lifts it
                await self.app(scope, receive_tracked, send_tracked)
        except Exception as failure:
            if isinstance(failure, TimeoutError) and deadline.expired():
                answer: XAPIError = (
                    RequestTimeout("the request body did not arrive in time", "body")
                    if receiving
                    else ServiceUnavailable(f"the request took longer than {self.timeout:g} s")
                )
            else:  # a fault of the service (its own timeouts included)
                error_log.exception("unexpected error on %s %s", scope["method"], route_of(scope))
                answer = _InternalError("internal error")
            if status == 0:
                await own_answer(answer)
        finally:
            try:
                await close_request_sessions(scope)
            finally:
                self._log(scope, status, started)
                REQUEST_ID.reset(token)

    @staticmethod
    def _log(scope: Scope, status: int, started: float) -> None:
        path = route_of(scope)
        access_log.info(
            "%s %s %s",
            scope["method"],
            path,
            status,
            extra={
                "method": scope["method"],
                "path": path,
                "status": status,
                "duration_ms": elapsed_ms(started),
                "client": (scope.get("client") or ("", 0))[0],
                "credential": scope.get("state", {}).get("credential"),
            },
        )


class _InternalError(XAPIError):
    status_code = 500


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class _XAPIMiddleware:
    def __init__(self, app: ASGIApp, max_request_bytes: int, default_version: XAPIVersion) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.default_version = default_version


class XAPIVersionMiddleware(_XAPIMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(XAPI_PREFIX):
            await self.app(scope, receive, send)
            return
        raw_version = _header(scope, b"x-experience-api-version")
        extra: list[tuple[bytes, bytes]] = []
        if path.startswith(_STATEMENTS):
            extra.append((CONSISTENT_THROUGH.lower().encode(), b""))
        try:
            if path in _VERSION_FREE:
                version = _lenient_version(raw_version, self.default_version)
            else:
                version = parse_version_header(raw_version)
            scope.setdefault("state", {})["xapi_version"] = version
            if version is XAPIVersion.V2 and scope["state"].get("alternate_syntax"):
                raise BadRequest(
                    "the alternate request syntax (method=) was removed in xAPI 2.0", "method"
                )
            _check_length(scope, self.max_request_bytes)
        except XAPIError as error:
            headers = [
                (
                    VERSION_HEADER.lower().encode(),
                    _lenient_version(raw_version, self.default_version).encode(),
                )
            ]
            await send_error(send, error, headers + _filled(extra))
            return
        version_header = (VERSION_HEADER.lower().encode(), version.value.encode())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {key.lower() for key, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers.append(version_header)
                headers.extend(h for h in _filled(extra) if h[0] not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, _limited(receive, self.max_request_bytes), send_with_headers)


def _filled(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    # Consistent-Through is "now" at the moment the answer starts, unless the route set its own.
    now = utc_timestamp(datetime.now(UTC)).encode()
    return [(name, value or now) for name, value in headers]


def _lenient_version(raw: str | None, default: XAPIVersion) -> XAPIVersion:
    """The version to answer in when the request names none (or one this LRS does not speak)."""
    try:
        return parse_version_header(raw)
    except BadRequest:
        return default


def _check_length(scope: Scope, limit: int) -> None:
    length = _header(scope, b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes", "Content-Length")


def _limited(receive: Receive, limit: int) -> Receive:
    """Stops bodies sent without Content-Length once they pass the limit."""
    seen = 0

    async def limited_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"the request body is larger than {limit} bytes", "body")
        return message

    return limited_receive


# xAPI-Communication 1.3: form fields that stand for headers; every other field is a parameter.
_HEADER_FIELDS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}
_METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE"}


class AlternateRequestSyntaxMiddleware(_XAPIMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        if scope["type"] != "http" or not scope.get("path", "").startswith(XAPI_PREFIX):
            await self.app(scope, receive, send)
            return
        params = parse_qsl(query, keep_blank_values=True)
        if not any(name == "method" for name, _ in params):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive, self.max_request_bytes)
            rewritten, content = _rewrite(scope, params, body)
        except XAPIError as error:
            version = _lenient_version(
                _header(scope, b"x-experience-api-version"), self.default_version
            )
            await send_error(send, error, [(b"x-experience-api-version", version.value.encode())])
            return
        delivered = False

        async def receive_content() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": content, "more_body": False}

        await self.app(rewritten, receive_content, send)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes", "body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _rewrite(scope: Scope, params: list[tuple[str, str]], body: bytes) -> tuple[Scope, bytes]:
    """xAPI-Communication 1.3.s3: `method` is the POST's only parameter; the form has the rest."""
    if scope["method"] != "POST":
        raise BadRequest("the alternate request syntax must use POST", "method")
    if len(params) != 1:
        extra = ", ".join(sorted({name for name, _ in params if name != "method"}))
        raise BadRequest(
            f"with method= the query string may hold nothing else (found {extra})", "method"
        )
    method = params[0][1].upper()
    if method not in _METHODS:
        raise BadRequest(f"method={params[0][1]!r} is not an HTTP method of xAPI", "method")
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest(
            "an alternate-syntax request must be application/x-www-form-urlencoded", "Content-Type"
        )
    try:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("the form body is not UTF-8", "content") from None
    headers: dict[bytes, bytes] = {
        key: value
        for key, value in scope["headers"]
        if key not in {b"content-type", b"content-length", b"transfer-encoding"}
    }
    query: list[tuple[str, str]] = []
    content = b""
    for name, value in form:
        lowered = name.lower()
        if name == "content":
            content = value.encode("utf-8")
        elif lowered in _HEADER_FIELDS:
            headers[lowered.encode()] = value.encode("latin-1", errors="replace")
        else:
            query.append((name, value))
    if method in {"PUT", "POST"} and "content" not in {name for name, _ in form}:
        raise BadRequest(f"an alternate-syntax {method} needs a content field", "content")
    if content and b"content-type" not in headers:
        headers[b"content-type"] = b"application/json"
    headers[b"content-length"] = str(len(content)).encode()
    # In place: the request middleware reads the state (credential, version) back.
    scope["method"] = method
    scope["headers"] = list(headers.items())
    scope["query_string"] = urlencode(query).encode()
    scope.setdefault("state", {})["alternate_syntax"] = True
    return scope, content
