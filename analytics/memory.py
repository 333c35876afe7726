"""The forgetting curve of one learner for one item: FSRS's memory state (stability: days
until recall falls to 90 %; difficulty: 1-10), updated at each recall event by the `fsrs`
package, and what follows from it: the probability of recall at any moment and the date
recall falls to a target retention.

A recall event becomes an FSRS rating: wrong is Again; right with a scaled score below
`HARD_BELOW` is Hard; right otherwise is Good. (Easy has no counterpart in statements.)"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy
from fsrs import Card, Rating, Scheduler, State

HARD_BELOW = 0.75
_DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class Memory:
    state: int  # fsrs.State: 1 learning, 2 review, 3 relearning
    step: int | None
    stability: float
    difficulty: float
    due: datetime  # FSRS's own schedule at its default retention of 0.9
    last_review: datetime
    reviews: int


@functools.cache
def scheduler() -> Scheduler:
    # No fuzzing: a learner's memory must be the same each time it is rebuilt.
    return Scheduler(enable_fuzzing=False)


def rating(correct: bool, scaled: float | None) -> Rating:
    if not correct:
        return Rating.Again
    return Rating.Hard if scaled is not None and scaled < HARD_BELOW else Rating.Good


def review(memory: Memory | None, correct: bool, scaled: float | None, at: datetime) -> Memory:
    """The memory state after a recall event at `at` (UTC)."""
    if memory is None:
        card = Card(card_id=0, due=at)
    else:
        card = Card(
            card_id=0,
            state=State(memory.state),
            step=memory.step,
            stability=memory.stability,
            difficulty=memory.difficulty,
            due=memory.due,
            last_review=memory.last_review,
        )
    reviewed, _ = scheduler().review_card(card, rating(correct, scaled), at)
    assert reviewed.stability is not None
    assert reviewed.difficulty is not None
    assert reviewed.last_review is not None
    return Memory(
        state=int(reviewed.state),
        step=reviewed.step,
        stability=reviewed.stability,
        difficulty=reviewed.difficulty,
        due=reviewed.due,
        last_review=reviewed.last_review,
        reviews=(memory.reviews if memory else 0) + 1,
    )


def _decay_and_factor() -> tuple[float, float]:
    decay = scheduler().parameters[20]
    return decay, 0.9 ** (-1 / decay) - 1


def retrievability(memory: Memory, at: datetime) -> float:
    """FSRS-6's power forgetting curve, R = (1 + factor * t / S) ^ -decay, at `at` (elapsed
    time in fractional days; the package's own rounds down to whole days)."""
    decay, factor = _decay_and_factor()
    elapsed = max(0.0, (at - memory.last_review).total_seconds() / _DAY_SECONDS)
    return float((1 + factor * elapsed / memory.stability) ** -decay)


def mean_retrievability(elapsed_days: numpy.ndarray, stability: numpy.ndarray) -> float:
    """`retrievability` of many memories at once, averaged: days since each one's last
    review (none before it) and its stability."""
    decay, factor = _decay_and_factor()
    recall = (1 + factor * numpy.maximum(elapsed_days, 0.0) / stability) ** -decay
    return float(recall.mean())


def days_per_stability(retention: float) -> float:
    """Days per day of stability until recall falls to `retention` (1 at 0.9)."""
    decay, factor = _decay_and_factor()
    return float((retention ** (-1 / decay) - 1) / factor)


def next_review(memory: Memory, retention: float) -> datetime:
    """When recall falls to `retention`: the curve above solved for t."""
    return memory.last_review + timedelta(days=memory.stability * days_per_stability(retention))


def curve_moments(start: datetime, days: int) -> list[datetime]:
    return [start + timedelta(days=day) for day in range(days + 1)]


def curve(memory: Memory, start: datetime, days: int) -> list[tuple[datetime, float]]:
    """Recall probability at `start` and each of the `days` days after it."""
    return [(moment, retrievability(memory, moment)) for moment in curve_moments(start, days)]
