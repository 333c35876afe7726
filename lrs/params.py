"""Query parameter rules shared by every xAPI resource."""

from __future__ import annotations

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
