"""Errors that carry their HTTP status; one handler turns them into JSON responses.

The body always names the rule that was broken and, where there is one, the field:
``{"error": {"status": 400, "message": "...", "field": "actor.mbox"}}``.
"""

from __future__ import annotations

import math
from typing import ClassVar


class XAPIError(Exception):
    status_code: ClassVar[int] = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Headers the answer carries besides the error (e.g. Consistent-Through).
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"status": self.status_code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class BadRequest(XAPIError):
    status_code = 400


class Unauthorized(XAPIError):
    status_code = 401


class Forbidden(XAPIError):
    status_code = 403


class NotFound(XAPIError):
    status_code = 404


class Conflict(XAPIError):
    status_code = 409


class PreconditionFailed(XAPIError):
    status_code = 412


class RequestTimeout(XAPIError):
    status_code = 408


class PayloadTooLarge(XAPIError):
    status_code = 413


class TooManyRequests(XAPIError):
    """Over the credential's rate; `retry_after` seconds until a request would pass."""

    status_code = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))


class ServiceUnavailable(XAPIError):
    """Nothing was changed and the same request may succeed later."""

    status_code = 503

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.headers["Retry-After"] = "1"
