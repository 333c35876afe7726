"""What a stored statement tells the learner models: one `Evidence` per (learner, activity).

The mapping (the README's "Learning analytics" section says the same for users):

- The learner is the statement's actor, an Agent with an IFI (keyed as `agent_ifi` keys it).
  Statements by Groups, about non-Activity objects, and voiding statements carry none.
- The statement is evidence about its object Activity (`object`), the Activities of its
  `context.contextActivities.parent` (`parent`: the lesson, quiz or competency an item
  belongs to) and of `grouping` (`grouping`: the course or programme). An Activity named
  twice keeps its closest relation.
- A recall event is an `answered`, `passed` or `failed` statement (ADL verbs, also cmi5's)
  with an outcome: `result.success` when present, else the verb (passed / failed), else the
  score (`result.score.scaled`, or raw within min..max) at or above the pass score.
- Progress: `completed` or `result.completion: true` completes an Activity; the cmi5
  progress extension (`result.extensions`, 0-100) and `progressed` report how far along it
  is; `passed` / `failed` are its outcome.
- Time spent: `result.duration`, counted toward the object and each of its parents and
  groupings. A statement of a cmi5 session (its context names the session id) counts only
  when it ends the session, `terminated` (the AU's) or `abandoned` (the LMS's), whose
  duration is the session's total (cmi5 9.5.4.1, 9.5.4.2); the session's other durations
  (completed, passed, failed: the time up to them) lie within it.
- Training evaluation: a statement is a pre-test, post-test, survey (reaction) or
  performance-indicator event when its object's `definition.type`, or the id of one of its
  `context.contextActivities.category` Activities, is one of that phase's markers
  (configured; `Markers`). Its score counts for its object and each parent and grouping: a
  pre-test inside a course is evidence about the course. An indicator's value is
  `result.score.raw`, else the scaled score.
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cmi5 import rules as cmi5
from statements.indexing import is_voiding
from statements.validation import agent_ifi, parse_timestamp

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ANSWERED, PASSED, FAILED = ADL_VERBS + "answered", ADL_VERBS + "passed", ADL_VERBS + "failed"
COMPLETED, PROGRESSED = ADL_VERBS + "completed", ADL_VERBS + "progressed"
RECALL_VERBS = frozenset({ANSWERED, PASSED, FAILED})
# The statements whose duration is their cmi5 session's total (cmi5 9.5.4).
SESSION_TOTALS = frozenset({cmi5.VERBS["terminated"], cmi5.VERBS["abandoned"]})

Relation = Literal["object", "parent", "grouping"]
Phase = Literal["pre", "post", "survey", "indicator"]


@dataclass(frozen=True)
class Markers:
    """The activity types or category ids that mark each evaluation phase."""

    pre_test: frozenset[str] = frozenset()
    post_test: frozenset[str] = frozenset()
    survey: frozenset[str] = frozenset()
    indicator: frozenset[str] = frozenset()

    def phase_of(self, statement: Mapping[str, Any]) -> Phase | None:
        marks = {
            category.get("id")
            for category in statement.get("context", {})
            .get("contextActivities", {})
            .get("category", ())
        }
        marks.add(statement["object"].get("definition", {}).get("type"))
        phases: tuple[tuple[Phase, frozenset[str]], ...] = (
            ("pre", self.pre_test),
            ("post", self.post_test),
            ("survey", self.survey),
            ("indicator", self.indicator),
        )
        for phase, markers in phases:
            if not markers.isdisjoint(marks):
                return phase
        return None


# ISO 8601 durations as xAPI allows them (Data 4.6); years and months at their average length.
_DURATION = re.compile(
    r"P(?:(?P<Y>[0-9.,]+)Y)?(?:(?P<M>[0-9.,]+)M)?(?:(?P<W>[0-9.,]+)W)?(?:(?P<D>[0-9.,]+)D)?"
    r"(?:T(?:(?P<h>[0-9.,]+)H)?(?:(?P<m>[0-9.,]+)M)?(?:(?P<s>[0-9.,]+)S)?)?"
)
_SECONDS = {
    "Y": 365.2425 * 86400,
    "M": 30.436875 * 86400,
    "W": 7 * 86400,
    "D": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
}


@dataclass(slots=True)  # not frozen: a frozen dataclass is four times slower to make
class Evidence:
    statement_id: uuid.UUID
    learner: str
    activity_id: str
    relation: Relation
    at: datetime  # the statement's timestamp: when it happened, not when it was stored
    stored: datetime  # when it was stored: retention deletes by this
    verb: str
    correct: bool | None  # a recall event's outcome; None when the statement is none
    scaled: float | None
    progress: float | None  # 0-100
    completed: bool
    seconds: float | None
    registration: uuid.UUID | None
    phase: Phase | None = None
    value: float | None = None  # an indicator's measure: score.raw, else scaled

    @property
    def order(self) -> tuple[datetime, str]:
        """Learner models fold their evidence in this order, whatever order it arrived in."""
        return self.at, str(self.statement_id)


# A sort key giving `Evidence.order` without making the ids' text: UUIDs order as their
# text does (fixed-width lower-case hex).
FOLD_ORDER = operator.attrgetter("at", "statement_id")


def duration_seconds(value: str) -> float:
    """Seconds in a duration that statement validation has accepted."""
    match = _DURATION.fullmatch(value)
    if match is None:
        return 0.0
    return sum(
        float(amount.replace(",", ".")) * _SECONDS[unit]
        for unit, amount in match.groupdict().items()
        if amount is not None
    )


def scaled_score(result: Mapping[str, Any]) -> float | None:
    """`score.scaled`, else `raw` placed within `min`..`max` (Data 4.1.5.1.s2)."""
    score = result.get("score")
    if not isinstance(score, dict):  # stored JSON (a dict is checked faster than a Mapping)
        return None
    if "scaled" in score:
        return float(score["scaled"])
    if "raw" in score and "min" in score and "max" in score and score["max"] > score["min"]:
        low, high = float(score["min"]), float(score["max"])
        return (float(score["raw"]) - low) / (high - low)
    return None


def _outcome(
    verb: str, result: Mapping[str, Any], scaled: float | None, pass_score: float
) -> bool | None:
    if verb not in RECALL_VERBS:
        return None
    if isinstance(result.get("success"), bool):
        return bool(result["success"])
    if verb != ANSWERED:
        return verb == PASSED
    return None if scaled is None else scaled >= pass_score


def _related(statement: Mapping[str, Any]) -> dict[str, Relation]:
    related: dict[str, Relation] = {statement["object"]["id"]: "object"}
    context_activities = statement.get("context", {}).get("contextActivities", {})
    for relation in ("parent", "grouping"):
        for activity in context_activities.get(relation, ()):
            related.setdefault(activity["id"], relation)
    return related


def _instant(value: str) -> datetime:
    """A stored statement's timestamp, in UTC. `datetime.fromisoformat` is ten times faster
    than validation's parser and reads every form that parser accepts alike (the forms only
    it accepts, validation refused: they are never stored); what it cannot read goes to
    that parser."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return parse_timestamp(value, "timestamp").astimezone(UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def evidence_of(
    statement: Mapping[str, Any], pass_score: float, markers: Markers | None = None
) -> list[Evidence]:
    """The evidence a stored (validated, prepared) statement carries; [] for none."""
    if is_voiding(statement) or statement["object"].get("objectType", "Activity") != "Activity":
        return []
    actor = statement["actor"]
    learner = agent_ifi(actor) if actor.get("objectType", "Agent") == "Agent" else None
    if learner is None:
        return []
    verb = statement["verb"]["id"]
    result = statement.get("result", {})
    scaled = scaled_score(result)
    correct = _outcome(verb, result, scaled, pass_score)
    progress = result.get("extensions", {}).get(cmi5.PROGRESS)
    progress_value = float(progress) if isinstance(progress, int | float) else None
    completed = verb == COMPLETED or result.get("completion") is True
    context = statement.get("context", {})
    seconds = duration_seconds(result["duration"]) if "duration" in result else None
    if verb not in SESSION_TOTALS and cmi5.SESSION_ID in context.get("extensions", {}):
        seconds = None  # within its session, whose last statement reports the total
    registration = context.get("registration")
    registration_id = uuid.UUID(registration) if registration else None
    at, stored = _instant(statement["timestamp"]), _instant(statement["stored"])
    statement_id = uuid.UUID(statement["id"])
    phase = markers.phase_of(statement) if markers else None
    raw = result.get("score", {}).get("raw")
    value = float(raw) if isinstance(raw, int | float) and phase == "indicator" else None
    if value is None and phase == "indicator":
        value = scaled
    return [
        Evidence(
            statement_id=statement_id,
            learner=learner,
            activity_id=activity_id,
            relation=relation,
            at=at,
            stored=stored,
            verb=verb,
            correct=correct,
            scaled=scaled,
            progress=progress_value,
            completed=completed,
            seconds=seconds,
            registration=registration_id,
            phase=phase,
            value=value,
        )
        for activity_id, relation in _related(statement).items()
    ]
