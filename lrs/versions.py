"""The xAPI versions this LRS speaks, chosen per request by `X-Experience-API-Version`."""

from __future__ import annotations

import re
from enum import StrEnum

from lrs.errors import BadRequest

VERSION_HEADER = "X-Experience-API-Version"


class XAPIVersion(StrEnum):
    V1 = "1.0.3"
    V2 = "2.0.0"


# 1.0, 1.0.x, 2.0, 2.0.x; also the OpenAPI document's pattern for the header.
VERSION_PATTERN = r"^(1\.0|2\.0)(\.[0-9]+)?$"
_HEADER = re.compile(VERSION_PATTERN)


def parse_version_header(value: str | None) -> XAPIVersion:
    """xAPI-Communication 3.3: accept 1.0, 1.0.x and (xAPI 2.0) 2.0, 2.0.x; reject anything else."""
    if value is None:
        raise BadRequest(f"the {VERSION_HEADER} header is required", field=VERSION_HEADER)
    match = _HEADER.match(value.strip())
    if match is None:
        raise BadRequest(
            f"unsupported {VERSION_HEADER} {value!r}: this LRS speaks 1.0.x and 2.0.x",
            field=VERSION_HEADER,
        )
    return XAPIVersion.V1 if match.group(1) == "1.0" else XAPIVersion.V2
