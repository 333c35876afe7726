"""Structured logs: one JSON object a line, each naming the request it was written for.

The request id comes from the client's `X-Request-ID` when that is a plain token (so a call
can be followed through a load balancer and the LMS that made it), else it is made here; it
is answered in `X-Request-ID` and written into every log line of the request. Log lines hold
no header, query string, body, database parameter or path of the admin API (its route's
template instead): credentials, learners' identifiers and statements stay out of the logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

REQUEST_ID = contextvars.ContextVar[str | None]("request_id", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Fields that callers pass as `extra=` and the formatter writes out.
_FIELDS = ("method", "path", "status", "duration_ms", "client", "credential")


def request_id_for(supplied: str | None) -> str:
    if supplied is not None and _CLIENT_REQUEST_ID.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it is written for, when it is written
    (a record may be formatted later, outside the request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        for name in _FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_config(level: str) -> dict[str, Any]:
    """For `uvicorn.run(log_config=...)`: every logger through the JSON formatter; uvicorn's
    own access log is off, as the request middleware writes a richer one (lrs.access)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JSONFormatter}},
        "filters": {"request_id": {"()": RequestIdFilter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "lrs": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def route_of(scope: Mapping[str, Any]) -> str:
    """The route's template once routed, else the path: paths of the admin API name tenants
    and people, their templates do not."""
    return getattr(scope.get("route"), "path", None) or str(scope["path"])


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
