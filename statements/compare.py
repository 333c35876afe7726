"""Statement comparison (xAPI-Data 2.3.1.s9): are two serializations the same statement?

Used to answer a re-sent statement id with 204 (same) or 409 (different), and to check that
the statement signed in a JWS is the statement received (Data 2.6.s5.b3.b2).

Differences the immutability exceptions of Data 2.3.1 explain are ignored; every other
difference counts (2.3.1.s9.b1-b2):

- b1 properties the LRS may set: `stored`, `authority` and `version` are never compared;
  `id` and the top-level `timestamp` are compared only when both statements have them (a
  JWS payload may predate the id the LRS assigned; a stored statement may carry the timestamp
  the LRS filled in). A timestamp equal to the statement's own `stored` counts as filled in
  by the LRS (Data 2.4.7.s3.b2), so two statements that both came without one compare equal
  even after the LRS gave each its own.
- b2 Activity `definition`s and b3 the verb's `display` are not part of the statement.
- b4 timestamps are compared as instants, to the millisecond (Data 4.5.s1.b5, b7).
- b5 a Group's `member` list is unordered.
- b6 `attachments` are not part of the statement.
- b7 case-insensitive values: UUIDs (statement id, registration, StatementRef ids), the
  `mailto:` scheme and the domain of an `mbox` (the local part is case-sensitive, RFC 5321
  2.4), `mbox_sha1sum` hex digits, and `context.language` (RFC 5646 2.1.1).

Two more differences are only serialization: a contextActivities value given as one Activity
or as an array of one (Data 2.4.6.2.s4.b3-b4), and a left-out `objectType` where the spec
defines its default (Agent for actors, Activity for objects; Data 2.4.2.1, 2.4.4.s2).

Durations stay strings (2.3.1.b8: no conversion between units, so PT1M is not PT60S), except
that the seconds are compared only to 0.01 s (Data 4.6.s1.b5), truncated, never rounded:
PT1.2345S, PT1.23S and PT1.230S are equal; PT1S and PT1.00S are equal.

Everything is applied recursively inside a SubStatement. Numbers compare by value (1 and 1.0
are one JSON number) but never equal a boolean. Nothing here raises on unexpected shapes: a
value that is not what the spec expects is compared as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from lrs.errors import BadRequest
from statements.validation import parse_timestamp

__all__ = ["statements_equivalent"]

# Data 2.3.1.b1 and b6: set by the LRS or not part of the statement at all.
_NEVER_COMPARED = frozenset({"stored", "authority", "version", "attachments"})
# Data 2.3.1.b1: the LRS assigns these when a statement comes without them.
_COMPARED_WHEN_BOTH = ("id", "timestamp")

# The seconds of a duration: P...T...<int>[.<fraction>]S (Data 4.6, ISO 8601 4.4.3.2).
_DURATION_SECONDS = re.compile(
    r"(?P<head>P[^T]*T(?:[0-9]+(?:[.,][0-9]+)?H)?(?:[0-9]+(?:[.,][0-9]+)?M)?)"
    r"(?P<whole>[0-9]+)(?:[.,](?P<fraction>[0-9]*))?S",
    re.ASCII,
)


def statements_equivalent(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when `a` and `b` are the same statement under Data 2.3.1.s9."""
    left = _statement(a, sub=False)
    right = _statement(b, sub=False)
    for normal, statement in ((left, a), (right, b)):
        # Data 2.4.7.s3.b2: a timestamp equal to the statement's own `stored` is the one the
        # LRS fills in when none was sent, so it may not have been sent.
        if "timestamp" in normal and _instant(statement.get("stored")) == normal["timestamp"]:
            del normal["timestamp"]
    for key in _COMPARED_WHEN_BOTH:
        if key not in left or key not in right:
            left.pop(key, None)
            right.pop(key, None)
    return _same(left, right)


# --- normal forms ----------------------------------------------------------------------------


def _statement(statement: Mapping[str, Any], *, sub: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in statement.items():
        if key == "attachments" or (not sub and key in _NEVER_COMPARED):
            continue
        if key == "id" and not sub:
            if value is not None:
                result[key] = _uuid(value)
        elif key == "timestamp":
            # A null top-level timestamp means "let the LRS set it" (see validation).
            if value is not None or sub:
                result[key] = _instant(value)
        elif key == "actor":
            result[key] = _agent(value)
        elif key == "verb":
            result[key] = _verb(value)
        elif key == "object":
            result[key] = _object(value)
        elif key == "result":
            result[key] = _result(value)
        elif key == "context":
            result[key] = _context(value)
        else:
            result[key] = value
    return result


def _uuid(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _instant(value: Any) -> Any:
    """A timestamp as its UTC instant truncated to milliseconds; unparseable values as given."""
    if not isinstance(value, str):
        return value
    try:
        moment = parse_timestamp(value, "timestamp").astimezone(UTC)
    except BadRequest:
        return value
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _duration(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    match = _DURATION_SECONDS.fullmatch(value)
    if match is None:
        return value
    hundredths = ((match["fraction"] or "") + "00")[:2]
    return f"{match['head']}{match['whole']}.{hundredths}S"


def _mbox(value: Any) -> Any:
    if not isinstance(value, str) or value[:7].lower() != "mailto:":
        return value
    local, at, domain = value[7:].rpartition("@")
    return f"mailto:{local}{at}{domain.lower()}"


def _agent(value: Any) -> Any:
    """An Agent or a Group (actor, instructor, team, member, object, contextAgents...)."""
    if not isinstance(value, Mapping):
        return value
    result = dict(value)
    result.setdefault("objectType", "Agent")
    if "mbox" in result:
        result["mbox"] = _mbox(result["mbox"])
    if isinstance(result.get("mbox_sha1sum"), str):
        result["mbox_sha1sum"] = result["mbox_sha1sum"].lower()
    members = result.get("member")
    if isinstance(members, list):
        result["member"] = sorted((_agent(member) for member in members), key=_sort_key)
    return result


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _verb(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {key: item for key, item in value.items() if key != "display"}


def _activity(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    result = {key: item for key, item in value.items() if key != "definition"}
    result.setdefault("objectType", "Activity")
    return result


def _statement_ref(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    result = dict(value)
    if "id" in result:
        result["id"] = _uuid(result["id"])
    return result


def _object(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    kind = value.get("objectType", "Activity")
    if kind == "Activity":
        return _activity(value)
    if kind in ("Agent", "Group"):
        return _agent(value)
    if kind == "StatementRef":
        return _statement_ref(value)
    if kind == "SubStatement":
        return _statement(value, sub=True)
    return dict(value)


def _result(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    result = dict(value)
    if "duration" in result:
        result["duration"] = _duration(result["duration"])
    return result


def _context(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    result = dict(value)
    if "registration" in result:
        result["registration"] = _uuid(result["registration"])
    if isinstance(result.get("language"), str):
        result["language"] = result["language"].lower()
    for name in ("instructor", "team"):
        if name in result:
            result[name] = _agent(result[name])
    if "statement" in result:
        result["statement"] = _statement_ref(result["statement"])
    activities = result.get("contextActivities")
    if isinstance(activities, Mapping):
        result["contextActivities"] = {
            kind: [_activity(item) for item in (listed if isinstance(listed, list) else [listed])]
            for kind, listed in activities.items()
        }
    # xAPI 2.0 contextAgents / contextGroups: each wraps one Agent or Group.
    for name, inner in (("contextAgents", "agent"), ("contextGroups", "group")):
        items = result.get(name)
        if isinstance(items, list):
            result[name] = [
                {**item, inner: _agent(item[inner])}
                if isinstance(item, Mapping) and inner in item
                else item
                for item in items
            ]
    return result


# --- equality ---------------------------------------------------------------------------------


def _same(left: Any, right: Any) -> bool:
    """JSON value equality: numbers by value, booleans only equal booleans."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _same(x, y) for x, y in zip(left, right, strict=True)
        )
    return type(left) is type(right) and bool(left == right)
