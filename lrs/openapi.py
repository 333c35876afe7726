"""The OpenAPI document: FastAPI's, completed with what the routes cannot say themselves.

Every answer an operation can give is listed, errors with their JSON body (lrs.errors):
those of any request (500; 503 when the database is busy or the deadline passed), of
authenticated requests (400, 401, 403, 429), of requests with a body (408, 413), and each
resource's own. Validation errors are 400s here, never FastAPI's 422. xAPI operations name
the X-Experience-API-Version header they need, and the credentials they take.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from lrs.versions import VERSION_HEADER, VERSION_PATTERN

_REASONS = {
    400: "The request breaks a rule; the message names it and `field` the offending part",
    401: "Missing, unknown, wrong, expired or revoked credentials",
    403: "The credential lacks the scope this needs, or the record is another tenant's",
    404: "No such record where this credential may look",
    408: "The request body did not arrive before the request timeout",
    409: "Conflicts with what is stored: the message says what to do",
    412: "If-Match / If-None-Match does not hold for the stored document",
    413: "The request, a batch, an attachment or a document is over its limit",
    429: "Over the credential's request rate, or the client's failed logins; see Retry-After",
    500: "A fault of the service",
    503: "The database was busy or the request took too long; nothing changed, retry",
}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}
# RFC 6749 5.2: the token endpoint answers its own errors the way OAuth clients parse them.
_OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
_OAUTH_PATH = "/oauth/token"
_ANY_DOCUMENT = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
# No credentials: liveness, About, and what a cmi5 AU's browser opens itself.
_OPEN = (
    "/health",
    "/xapi/about",
    "/cmi5/content/{content_key}/{path}",
    "/cmi5/fetch/{session_id}/{secret}",
)
_COURSE_IMPORT = "/cmi5/courses"
_PACKAGE = {"schema": {"type": "string", "format": "binary"}}
# (path prefix, methods, the resource's own errors)
_OWN_ERRORS: tuple[tuple[str, frozenset[str], tuple[int, ...]], ...] = (
    ("/xapi/statements", frozenset({"put", "post"}), (409,)),
    ("/xapi/statements", frozenset({"get"}), (404,)),
    ("/xapi/activities/state", frozenset({"get"}), (404,)),
    ("/xapi/activities/profile", frozenset({"get"}), (404,)),
    ("/xapi/agents/profile", frozenset({"get"}), (404,)),
    ("/xapi/activities/", frozenset({"put", "post"}), (409, 412)),
    ("/xapi/agents/profile", frozenset({"put", "post"}), (409, 412)),
    ("/xapi/activities/", frozenset({"delete"}), (412,)),
    ("/xapi/agents/profile", frozenset({"delete"}), (412,)),
    ("/admin/", frozenset({"get", "post", "put", "patch", "delete"}), (404,)),
    ("/admin/", frozenset({"post", "put", "patch"}), (409,)),
    ("/xapi/about", frozenset({"get"}), (400,)),
    ("/cmi5/registrations", frozenset({"get", "post"}), (404,)),
    ("/cmi5/sessions/", frozenset({"post"}), (404,)),
    ("/cmi5/content/", frozenset({"get"}), (400, 404)),
    ("/analytics/progress/course", frozenset({"get"}), (404,)),
)
_DOCUMENT_PATHS = ("/xapi/activities/state", "/xapi/activities/profile", "/xapi/agents/profile")


def openapi_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    for name in ("HTTPValidationError", "ValidationError"):
        document.get("components", {}).get("schemas", {}).pop(name, None)
    document.setdefault("components", {})["securitySchemes"] = {
        "basic": {"type": "http", "scheme": "basic"},
        "bearer": {"type": "http", "scheme": "bearer", "description": "from /oauth/token"},
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _complete(path, method, operation)
    return document


def _complete(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    codes = {500, 503}
    if path == _OAUTH_PATH:
        codes |= {400, 401, 429}
        operation["security"] = [{"basic": []}]
    elif path not in _OPEN:
        codes |= {400, 401, 403, 429}
        operation["security"] = [{"basic": []}, {"bearer": []}]
    if path == _COURSE_IMPORT and method == "post":
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/xml": _PACKAGE,
                "application/zip": _PACKAGE,
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    has_body = "requestBody" in operation or (path in _DOCUMENT_PATHS and method in {"put", "post"})
    if has_body:
        codes |= {408, 413}
    for prefix, methods, own in _OWN_ERRORS:
        if path.startswith(prefix) and method in methods:
            codes |= set(own)
    for code in sorted(codes):
        oauth = path == _OAUTH_PATH and code in {400, 401, 429}
        responses[str(code)] = {
            "description": _REASONS[code],
            "content": {
                "application/json": {"schema": _OAUTH_ERROR_SCHEMA if oauth else _ERROR_SCHEMA}
            },
        }
    if path.startswith("/xapi/") and path != "/xapi/about":
        operation.setdefault("parameters", []).append(
            {
                "name": VERSION_HEADER,
                "in": "header",
                "required": True,
                "description": "The xAPI version of the request: 1.0.x or 2.0.x",
                "schema": {"type": "string", "pattern": VERSION_PATTERN, "example": "2.0.0"},
            }
        )
    if path in _DOCUMENT_PATHS:
        _document_bodies(method, operation)
    if path == "/xapi/statements" and method == "get":
        responses["200"]["content"] = {
            "application/json": {"schema": {"type": "object"}},
            "multipart/mixed": {"schema": {"type": "string", "format": "binary"}},
        }


def _document_bodies(method: str, operation: dict[str, Any]) -> None:
    """State and profile documents are any bytes of any type; a GET without a document id
    answers the ids as a JSON array."""
    if method in {"put", "post"}:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    if method == "get":
        operation["responses"]["200"]["content"] = _ANY_DOCUMENT
