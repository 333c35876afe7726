"""The cmi5 statement rules an LMS enforces on what an AU sends in a session (cmi5 7.1, 9),
as plain functions of the session's state. A broken rule is a 403 naming it, which is the
status ADL's cmi5 LMS test suite expects for a rejected statement."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lrs.errors import Forbidden
from statements.validation import agent_ifi

CMI5 = "https://w3id.org/xapi/cmi5/"
ADL = "http://adlnet.gov/expapi/verbs/"
W3ADL = "https://w3id.org/xapi/adl/verbs/"
VERBS = {
    "initialized": ADL + "initialized",
    "completed": ADL + "completed",
    "passed": ADL + "passed",
    "failed": ADL + "failed",
    "terminated": ADL + "terminated",
    "launched": ADL + "launched",
    "abandoned": W3ADL + "abandoned",
    "waived": W3ADL + "waived",
    "satisfied": W3ADL + "satisfied",
}
VERB_NAMES = {iri: name for name, iri in VERBS.items()}
AU_VERBS = ("initialized", "completed", "passed", "failed", "terminated")
VOIDED = ADL + "voided"
CATEGORY = CMI5 + "context/categories/cmi5"
MOVEON_CATEGORY = CMI5 + "context/categories/moveon"
SESSION_ID = CMI5 + "context/extensions/sessionid"
MASTERY_SCORE = CMI5 + "context/extensions/masteryscore"
LAUNCH_MODE = CMI5 + "context/extensions/launchmode"
LAUNCH_URL = CMI5 + "context/extensions/launchurl"
LAUNCH_PARAMETERS = CMI5 + "context/extensions/launchparameters"
MOVE_ON = CMI5 + "context/extensions/moveon"
PROGRESS = CMI5 + "result/extensions/progress"
REASON = CMI5 + "result/extensions/reason"
BLOCK_TYPE = CMI5 + "activitytype/block"
COURSE_TYPE = CMI5 + "activitytype/course"
# cmi5 9.7: "+00:00" and its spellings, or "Z".
_UTC = re.compile(r"(Z|z|\+00(:?00)?)$")


@dataclass
class SessionView:
    """What the rules need to know of a session, updated as statements are accepted."""

    session_id: str
    registration: str
    actor_ifi: str
    activity_id: str  # the AU's LMS activityId
    launch_mode: str
    mastery_score: float | None
    context_template: dict[str, Any]
    state: str  # launched, initialized, terminated, abandoned
    verbs: list[str]
    preferences_read: bool
    # Across the registration's sessions, for this AU.
    completed: bool
    passed: bool
    accepted: list[str] = field(default_factory=list)  # cmi5 defined verbs this request


def _refuse(rule: str, path: str) -> Forbidden:
    return Forbidden(rule, path)


def check_statement(view: SessionView, statement: dict[str, Any], path: str) -> str | None:
    """Accepts `statement` into the session or raises 403; returns the cmi5 defined verb's
    short name (None for a cmi5 allowed statement) and updates `view`."""
    if view.state in ("terminated", "abandoned"):
        raise _refuse(
            f"the session has been {view.state}; it accepts no statements (cmi5 9.3)", path
        )
    verb = statement["verb"]["id"]
    if verb == VOIDED:
        raise _refuse("an AU may not void statements (cmi5 6.3)", f"{path}.verb")
    if "id" not in statement:
        raise _refuse("an AU's statement carries its id (cmi5 9.1)", f"{path}.id")
    if not _UTC.search(str(statement.get("timestamp", "x"))):
        raise _refuse("an AU's statement carries a UTC timestamp (cmi5 9.7)", f"{path}.timestamp")
    actor = statement["actor"]
    if agent_ifi(actor) != view.actor_ifi or actor.get("objectType", "Agent") != "Agent":
        raise _refuse("the actor must be the launch actor (cmi5 8.1.3, 9.2)", f"{path}.actor")
    _check_context(view, statement.get("context"), f"{path}.context")
    categories = {
        activity.get("id")
        for activity in statement["context"].get("contextActivities", {}).get("category", [])
    }
    result = statement.get("result", {})
    if CATEGORY not in categories:
        if MOVEON_CATEGORY in categories:
            raise _refuse(
                "the moveon category belongs on cmi5 defined statements (cmi5 9.6.2.2)",
                f"{path}.context.contextActivities.category",
            )
        if view.state != "initialized":
            raise _refuse(
                "cmi5 allowed statements come between initialized and terminated (cmi5 7.1.3)",
                path,
            )
        return None
    name = VERB_NAMES.get(verb)
    if name not in AU_VERBS:
        raise _refuse(
            f"{verb} is not a verb an AU may send with the cmi5 category; AUs send "
            "initialized, completed, passed, failed and terminated (cmi5 9.3)",
            f"{path}.verb",
        )
    assert name is not None
    if statement["object"].get("id") != view.activity_id:
        raise _refuse(
            "the object of a cmi5 defined statement is the AU's launch activityId (cmi5 9.4)",
            f"{path}.object.id",
        )
    _check_order(view, name, path)
    _check_result(view, name, result, categories, path)
    _check_mastery(view, name, result, statement["context"], path)
    view.verbs.append(name)
    view.accepted.append(name)
    if name == "initialized":
        view.state = "initialized"
    elif name == "terminated":
        view.state = "terminated"
    elif name == "completed":
        view.completed = True
    elif name == "passed":
        view.passed = True
    return name


def _check_context(view: SessionView, context: Any, path: str) -> None:
    if not isinstance(context, dict):
        raise _refuse("an AU's statement carries the context template (cmi5 10.2.1)", path)
    if str(context.get("registration", "")).lower() != view.registration:
        raise _refuse(
            "context.registration must be the launch registration (cmi5 9.6.1)",
            f"{path}.registration",
        )
    extensions = context.get("extensions", {})
    if extensions.get(SESSION_ID) != view.session_id:
        raise _refuse(
            "the sessionid extension must be the session's id (cmi5 9.6.3.1)",
            f"{path}.extensions",
        )
    for key, value in view.context_template.get("extensions", {}).items():
        if extensions.get(key) != value:
            raise _refuse(
                f"the context template's extension {key} must be kept (cmi5 10.2.1)",
                f"{path}.extensions",
            )
    activities = context.get("contextActivities", {})
    for kind, required in view.context_template.get("contextActivities", {}).items():
        present = {activity.get("id") for activity in activities.get(kind, [])}
        for activity in required:
            if activity["id"] not in present:
                raise _refuse(
                    f"the context template's {kind} activity {activity['id']} must be kept "
                    "(cmi5 9.6.2.3, 10.2.1)",
                    f"{path}.contextActivities.{kind}",
                )


def _check_order(view: SessionView, name: str, path: str) -> None:
    verb_path = f"{path}.verb"
    if name == "initialized":
        if view.state != "launched":
            raise _refuse("initialized comes once, first in a session (cmi5 9.3.2)", verb_path)
        if not view.preferences_read:
            raise _refuse(
                "an AU retrieves the cmi5LearnerPreferences agent profile before initialized "
                "(cmi5 11)",
                verb_path,
            )
        return
    if view.state == "launched":
        raise _refuse("the first statement of a session is initialized (cmi5 9.3)", verb_path)
    if name in view.verbs:
        raise _refuse(f"{name} comes at most once in a session (cmi5 9.3)", verb_path)
    if name in ("passed", "failed") and {"passed", "failed"} & set(view.verbs):
        raise _refuse("a session holds passed or failed, not both (cmi5 9.3)", verb_path)
    if name in ("completed", "passed", "failed") and view.launch_mode != "Normal":
        raise _refuse(
            f"a {view.launch_mode} session may not record {name} (cmi5 10.2.2)", verb_path
        )
    if name == "completed" and view.completed:
        raise _refuse("the AU is already completed in this registration (cmi5 9.3.3)", verb_path)
    if name in ("passed", "failed") and view.passed:
        raise _refuse(
            f"the AU is already passed in this registration; no {name} may follow (cmi5 9.3.4)",
            verb_path,
        )


def _check_result(
    view: SessionView, name: str, result: dict[str, Any], categories: set[Any], path: str
) -> None:
    statement_path, path = path, f"{path}.result"
    score = result.get("score")
    if score is not None:
        if name not in ("passed", "failed"):
            raise _refuse("only passed and failed carry a score (cmi5 9.5.1)", f"{path}.score")
        if "raw" in score and ("min" not in score or "max" not in score):
            raise _refuse("a raw score needs min and max (cmi5 9.5.1)", f"{path}.score")
    expected_success = {"passed": True, "failed": False}.get(name)
    if result.get("success") != expected_success:
        rule = (
            f"{name} carries result.success {str(expected_success).lower()}"
            if expected_success is not None
            else f"{name} carries no result.success"
        )
        raise _refuse(f"{rule} (cmi5 9.5.2)", f"{path}.success")
    expected_completion = True if name == "completed" else None
    if result.get("completion") != expected_completion:
        rule = (
            "completed carries result.completion true"
            if expected_completion
            else (f"{name} carries no result.completion")
        )
        raise _refuse(f"{rule} (cmi5 9.5.3)", f"{path}.completion")
    has_outcome = expected_success is not None or expected_completion is not None
    if has_outcome != (MOVEON_CATEGORY in categories):
        raise _refuse(
            "the moveon category is present exactly when result has success or completion "
            "(cmi5 9.6.2.2)",
            f"{statement_path}.context.contextActivities.category",
        )
    if name in ("terminated", "completed", "passed", "failed") and "duration" not in result:
        raise _refuse(f"{name} carries result.duration (cmi5 9.5.4.1)", f"{path}.duration")
    progress = result.get("extensions", {}).get(PROGRESS)
    if progress is not None and not (
        isinstance(progress, int) and not isinstance(progress, bool) and 0 <= progress <= 100
    ):
        raise _refuse("progress is an integer from 0 to 100 (cmi5 9.5.5.1)", f"{path}.extensions")


def _check_mastery(
    view: SessionView, name: str, result: dict[str, Any], context: dict[str, Any], path: str
) -> None:
    """cmi5 9.3.4, 9.3.5, 9.6.3.2: a passed or failed with a scaled score is judged against
    the session's masteryScore, and says so with the masteryscore extension."""
    scaled = (result.get("score") or {}).get("scaled")
    if name not in ("passed", "failed") or view.mastery_score is None or scaled is None:
        return
    if name == "passed" and scaled < view.mastery_score:
        raise _refuse(
            f"passed needs a scaled score of at least the masteryScore {view.mastery_score} "
            "(cmi5 9.3.4)",
            f"{path}.result.score.scaled",
        )
    if name == "failed" and scaled >= view.mastery_score:
        raise _refuse(
            f"failed needs a scaled score below the masteryScore {view.mastery_score} (cmi5 9.3.5)",
            f"{path}.result.score.scaled",
        )
    if context.get("extensions", {}).get(MASTERY_SCORE) != view.mastery_score:
        raise _refuse(
            f"{name} judged against the masteryScore carries the masteryscore extension "
            f"{view.mastery_score} (cmi5 9.6.3.2)",
            f"{path}.context.extensions",
        )
