"""Route registration helpers shared by the resources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request

from lrs.errors import PayloadTooLarge

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def get_and_head(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """xAPI-Communication 1.1: every GET-able resource answers HEAD the same way, without a
    body (the server drops it). HEAD stays out of the OpenAPI document, which has GET."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=["GET"], **options)
        router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False, **options)
        return endpoint

    return register


def documented_parameters(names: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """OpenAPI for routes that read their query strings themselves (to reject unknown names)."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": {"type": "string"},
            }
            for name in names
        ]
    }


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes (before it is
    all read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} are limited to {limit} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)
