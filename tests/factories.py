"""Plain typed factories for test data."""

from __future__ import annotations

import uuid
from typing import Any

VERB = "http://adlnet.gov/expapi/verbs/experienced"
ACTIVITY = "http://example.com/activities/course-1"


def agent(name: str = "learner") -> dict[str, Any]:
    return {"objectType": "Agent", "name": name, "mbox": f"mailto:{name}@example.com"}


def activity(activity_id: str = ACTIVITY, **definition: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        result["definition"] = definition
    return result


def statement(**overrides: Any) -> dict[str, Any]:
    """A valid statement; keyword arguments replace or add top-level properties."""
    result: dict[str, Any] = {
        "actor": agent(),
        "verb": {"id": VERB, "display": {"en-US": "experienced"}},
        "object": activity(),
    }
    result.update(overrides)
    return result


def with_id(**overrides: Any) -> dict[str, Any]:
    return statement(id=str(uuid.uuid4()), **overrides)


def voiding(target_id: str, **overrides: Any) -> dict[str, Any]:
    return statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target_id},
        **overrides,
    )
