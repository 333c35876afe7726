"""The forgetting curve of one learner for one item: FSRS's memory state (stability: days
until recall falls to 90 %; difficulty: 1-10), updated at each recall event by the `fsrs`
package, and what follows from it: the probability of recall at any moment and the date
recall falls to a target retention. FSRS's parameters are its defaults, or a tenant's own
that `fit` learnt from its reviews and found better on the latest of them.

A recall event becomes an FSRS rating: wrong is Again; right with a scaled score below
`HARD_BELOW` is Hard; right otherwise is Good. (Easy has no counterpart in statements.)"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy
from fsrs import Card, Rating, ReviewLog, Scheduler, State
from fsrs.scheduler import DEFAULT_PARAMETERS

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

    def card(self) -> Card:
        """The memory as the `fsrs` package's card."""
        return Card(
            card_id=0,
            state=State(self.state),
            step=self.step,
            stability=self.stability,
            difficulty=self.difficulty,
            due=self.due,
            last_review=self.last_review,
        )


def rating(correct: bool, scaled: float | None) -> Rating:
    if not correct:
        return Rating.Again
    return Rating.Hard if scaled is not None and scaled < HARD_BELOW else Rating.Good


class Forgetting:
    """FSRS with one set of its 21 parameters: the package's defaults, or a tenant's own
    (`fit`). The decay (w[20]) shapes the curve, so every reading of a memory goes through
    the parameters that made it."""

    def __init__(self, parameters: Sequence[float]) -> None:
        self.parameters = tuple(parameters)
        # No fuzzing: a learner's memory must be the same each time it is rebuilt.
        self.scheduler = Scheduler(parameters=self.parameters, enable_fuzzing=False)
        self.decay = self.parameters[20]
        self.factor = 0.9 ** (-1 / self.decay) - 1

    def review(
        self, memory: Memory | None, correct: bool, scaled: float | None, at: datetime
    ) -> Memory:
        """The memory state after a recall event at `at` (UTC)."""
        card = Card(card_id=0, due=at) if memory is None else memory.card()
        reviewed, _ = self.scheduler.review_card(card, rating(correct, scaled), at)
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

    def retrievability(self, memory: Memory, at: datetime) -> float:
        """FSRS-6's power forgetting curve, R = (1 + factor * t / S) ^ -decay, at `at`
        (elapsed time in fractional days; the package's own rounds down to whole days)."""
        elapsed = max(0.0, (at - memory.last_review).total_seconds() / _DAY_SECONDS)
        return float((1 + self.factor * elapsed / memory.stability) ** -self.decay)

    def recall(self, elapsed_days: numpy.ndarray, stability: numpy.ndarray) -> numpy.ndarray:
        """`retrievability` of many memories at once: days since each one's last review
        (none before it) and its stability."""
        elapsed = numpy.maximum(elapsed_days, 0.0)
        return numpy.asarray((1 + self.factor * elapsed / stability) ** -self.decay)

    def days_per_stability(self, retention: float) -> float:
        """Days per day of stability until recall falls to `retention` (1 at 0.9)."""
        return float((retention ** (-1 / self.decay) - 1) / self.factor)

    def next_review(self, memory: Memory, retention: float) -> datetime:
        """When recall falls to `retention`: the curve above solved for t."""
        days = memory.stability * self.days_per_stability(retention)
        return memory.last_review + timedelta(days=days)


DEFAULT = Forgetting(DEFAULT_PARAMETERS)


def curve_moments(start: datetime, days: int) -> list[datetime]:
    return [start + timedelta(days=day) for day in range(days + 1)]


# With fewer spaced reviews (a day or more after the item's previous one) the `fsrs`
# optimiser keeps its defaults; a tenant needs this many of its own. The optimiser reads the
# first MAX_ITEM_REVIEWS of each item's reviews only, and so does the count.
MIN_FIT_REVIEWS = 512
MAX_ITEM_REVIEWS = 64
# The latest share of a tenant's reviews, by time, that judges a fit made on the rest.
HELD_OUT_SHARE = 0.2
_EPS = 1e-6

# One item's recall events in time order: when, right or wrong, scaled score.
History = Sequence[tuple[datetime, bool, float | None]]


@dataclass(frozen=True)
class Fit:
    """What `fit` made of a tenant's reviews. `parameters` is None when the defaults stay:
    too few reviews, or a fit no better than the defaults on the held-out reviews
    (`log_loss` against `default_log_loss`, both over `held_out`). Not `decided` (no
    optimiser installed): whatever the tenant had stays."""

    parameters: tuple[float, ...] | None
    reviews: int
    held_out: int
    log_loss: float | None
    default_log_loss: float | None
    verdict: str
    decided: bool = True


def _spaced(history: History, first: int | None = None) -> Iterator[int]:
    """Indexes of the reviews a day or more after the item's previous review (among its
    `first` ones): the ones the curve predicts and the optimiser learns from."""
    for index in range(1, min(len(history), first or len(history))):
        if (history[index][0] - history[index - 1][0]).days >= 1:
            yield index


def held_out_log_loss(
    forgetting: Forgetting, histories: Sequence[History], cutoff: datetime
) -> tuple[float | None, int]:
    """Mean log loss of the recall predicted at each spaced review from `cutoff` on, each
    item's memory folded through all of its reviews before it; and how many were scored."""
    total, scored = 0.0, 0
    for history in histories:
        spaced = set(_spaced(history))
        memory = None
        for index, (at, correct, scaled) in enumerate(history):
            if memory is not None and index in spaced and at >= cutoff:
                recall = min(1 - _EPS, max(_EPS, forgetting.retrievability(memory, at)))
                total -= math.log(recall if correct else 1 - recall)
                scored += 1
            memory = forgetting.review(memory, correct, scaled, at)
    return (total / scored if scored else None), scored


def _optimised(histories: Sequence[History], before: datetime | None = None) -> tuple[float, ...]:
    """The `fsrs` optimiser's parameters for the reviews (before `before`); raises
    ImportError without its optional dependencies (torch)."""
    # Here, not at the top: torch is optional and slow to import.
    from fsrs.optimizer import Optimizer

    logs = [
        ReviewLog(card, rating(correct, scaled), at, None)
        for card, history in enumerate(histories)
        for at, correct, scaled in history
        if before is None or at < before
    ]
    return tuple(Optimizer(logs).compute_optimal_parameters())


def fit(histories: Sequence[History]) -> Fit:
    """A tenant's own FSRS parameters, if they predict better than the defaults: the
    optimiser learns them from the first 80 % of the reviews by time, and both sets are
    scored on the spaced reviews of the last 20 %; only a fit with lower log loss there is
    kept, learnt again from all reviews."""
    reviews = sum(1 for history in histories for _ in _spaced(history, MAX_ITEM_REVIEWS))
    if reviews < MIN_FIT_REVIEWS:
        return Fit(None, reviews, 0, None, None, f"fewer than {MIN_FIT_REVIEWS} spaced reviews")
    times = sorted(at for history in histories for at, _, _ in history)
    cutoff = times[int(len(times) * (1 - HELD_OUT_SHARE))]
    try:
        candidate = Forgetting(_optimised(histories, before=cutoff))
    except ImportError:
        verdict = "the FSRS optimiser is not installed (lrs[optimizer]); the curve stays as it was"
        return Fit(None, reviews, 0, None, None, verdict, decided=False)
    if candidate.parameters == DEFAULT.parameters:  # the optimiser's floor, before the cutoff
        verdict = f"fewer than {MIN_FIT_REVIEWS} spaced reviews before the held-out ones"
        return Fit(None, reviews, 0, None, None, verdict)
    fitted, held_out = held_out_log_loss(candidate, histories, cutoff)
    default, _ = held_out_log_loss(DEFAULT, histories, cutoff)
    if fitted is None or default is None:
        verdict = "no spaced reviews among the latest to judge a fit by"
        return Fit(None, reviews, 0, None, None, verdict)
    if fitted >= default:
        verdict = "no better than the defaults on the held-out reviews"
        return Fit(None, reviews, held_out, fitted, default, verdict)
    return Fit(_optimised(histories), reviews, held_out, fitted, default, "fitted")
