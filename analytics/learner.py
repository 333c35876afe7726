"""A learner's model of one Activity: a fold over its evidence in time order.

The same fold serves the statement just stored (continued from the saved state when the new
evidence is later than all before it) and a rebuild (from nothing), so both end in the
same state. What counts toward what:

- every relation: first and last activity, statement count, time spent;
- the object only: completion, progress, pass/fail outcome and attempts, best score, and
  the forgetting curve (an item is what was recalled, not the quiz around it);
- object and parent: mastery (an answer is evidence of the item's skill and of the
  competency it belongs to, not of the whole course)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from analytics import bkt, memory
from analytics.evidence import FAILED, PASSED, Evidence


def completion(completed: bool, progress: float | None) -> float:
    """Per cent complete: 100 once completed, else the progress reported, else 0."""
    return 100.0 if completed else (progress or 0.0)


@dataclass
class ActivityState:
    learner: str
    activity_id: str
    first_at: datetime
    last_at: datetime
    last_statement: str  # with last_at, the order key of the last evidence folded in
    statements: int = 0
    seconds: float = 0.0
    completed_at: datetime | None = None
    progress: float | None = None  # the highest progress reported, 0-100
    outcome: str | None = None  # the latest of "passed" / "failed"
    first_outcome: str | None = None
    attempts: int = 0  # passed / failed statements
    best_score: float | None = None
    answers: int = 0  # recall events
    correct: int = 0
    mastery: float | None = None
    memory: memory.Memory | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        return self.last_at, self.last_statement

    @property
    def completion(self) -> float:
        return completion(self.completed_at is not None, self.progress)

    @property
    def status(self) -> str:
        if self.outcome is not None:
            return self.outcome
        return "completed" if self.completed_at is not None else "started"


def fold(
    state: ActivityState | None,
    evidence: Iterable[Evidence],
    parameters: bkt.Parameters,
    forgetting: memory.Forgetting,
) -> ActivityState:
    """`state` (None: nothing yet) after `evidence`, which must be in `Evidence.order` and
    later than anything in `state`; mastery with `parameters`, memory on `forgetting`."""
    current = copy.copy(state)
    item = None
    for item in evidence:
        if current is None:
            current = ActivityState(item.learner, item.activity_id, item.at, item.at, "")
        current.statements += 1
        current.seconds += item.seconds or 0.0
        if item.relation == "object":
            _object_evidence(current, item, forgetting)
        if item.correct is not None and item.relation != "grouping":
            current.answers += 1
            current.correct += item.correct
            current.mastery = bkt.update(current.mastery, item.correct, parameters)
    if current is None or item is None:
        raise ValueError("a learner model needs at least one piece of evidence")
    current.last_at, current.last_statement = item.order
    return current


def _object_evidence(state: ActivityState, item: Evidence, forgetting: memory.Forgetting) -> None:
    if item.completed and state.completed_at is None:
        state.completed_at = item.at
    if item.progress is not None:
        state.progress = max(state.progress or 0.0, min(100.0, item.progress))
    if item.verb in (PASSED, FAILED):
        state.outcome = "passed" if item.verb == PASSED else "failed"
        state.first_outcome = state.first_outcome or state.outcome
        state.attempts += 1
    if item.scaled is not None:
        best = state.best_score
        state.best_score = item.scaled if best is None else max(best, item.scaled)
    if item.correct is not None:
        state.memory = forgetting.review(state.memory, item.correct, item.scaled, item.at)
