"""What each learner model adds to its Activity's cohort totals (the progress and mastery
summaries): kept per tenant and Activity as models change, so a summary over whole tenants
reads one row per Activity, not every learner's model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from analytics.learner import ActivityState

MASTERED = 0.95  # BKT's customary threshold for "has mastered the skill"
TENTHS = tuple(f"tenth_{i}" for i in range(10))
FIELDS = (
    "learners", "completed", "assessed", "passed", "passed_first", "retakes", "seconds",
    "answered", "mastery_sum", "mastered", "answers", *TENTHS,
)  # fmt: skip

Totals = dict[str, float]


def tenth(mastery: float) -> int:
    """0-9; 1.0 counts in the top tenth."""
    return next((i for i in range(9) if mastery < (i + 1) / 10), 9)


def contribution(state: ActivityState) -> Totals:
    answered = state.answers > 0
    mastery = state.mastery or 0.0
    added: Totals = dict.fromkeys(FIELDS, 0)
    added |= {
        "learners": 1,
        "completed": int(state.completed_at is not None),
        "assessed": int(state.outcome is not None),
        "passed": int(state.outcome == "passed"),
        "passed_first": int(state.first_outcome == "passed"),
        "retakes": max(state.attempts - 1, 0),
        "seconds": state.seconds,
        "answers": state.answers,
    }
    if answered:
        added |= {"answered": 1, "mastery_sum": mastery, "mastered": int(mastery >= MASTERED)}
        added[TENTHS[tenth(mastery)]] = 1
    return added


def changes(before: Iterable[ActivityState], after: Iterable[ActivityState]) -> dict[str, Totals]:
    """Per Activity, what the models `after` add to the totals less what those `before`
    (the same models, saved earlier) had added."""
    delta: dict[str, Totals] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    for sign, states in ((-1, before), (1, after)):
        for state in states:
            totals = delta[state.activity_id]
            for name, value in contribution(state).items():
                totals[name] += sign * value
    return {activity: totals for activity, totals in delta.items() if any(totals.values())}
