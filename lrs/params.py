"""Request parameter rules shared by the resources."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

from lrs.errors import BadRequest


def check_parameter_names(names: list[str], allowed: tuple[str, ...]) -> None:
    """xAPI-Communication 3.2.s3.b7-b8: unknown, mis-cased or repeated parameters are a 400."""
    lowered = {name.lower(): name for name in allowed}
    seen: set[str] = set()
    for name in names:
        if name not in allowed:
            hint = f"; did you mean {lowered[name.lower()]!r}?" if name.lower() in lowered else ""
            raise BadRequest(f"unknown parameter {name!r}{hint}", name)
        if name in seen:
            raise BadRequest(f"parameter {name!r} is given more than once", name)
        seen.add(name)


def _iso_8601(value: Any) -> Any:
    """Only ISO 8601 text: Pydantic alone also takes numbers, and numeric text, as Unix time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time, as text")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date and time") from None


# A date and time in a request body or query string of the admin API.
Timestamp = Annotated[datetime, BeforeValidator(_iso_8601)]
