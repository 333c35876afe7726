"""The learner models' rules without a database: what a statement is evidence of
(analytics/evidence.py), Bayesian Knowledge Tracing's update and fit (analytics/bkt.py) and
the FSRS forgetting curve (analytics/memory.py)."""

from __future__ import annotations

import math
import random
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import fsrs
import pytest
from fsrs import Rating

from analytics import bkt, memory
from analytics.evidence import Evidence, duration_seconds, evidence_of
from statements.validation import parse_timestamp
from tests.analytics.conftest import (
    ADL,
    COURSE,
    ITEM,
    QUIZ,
    SLOW_GROWTH,
    answer,
    key_of,
    said,
    simulated_reviews,
    voiding,
)

AT = "2026-03-02T09:00:00Z"
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
PASS_SCORE = 0.5  # LRS_ANALYTICS_PASS_SCORE's default
STORED = "2026-03-04T10:00:00.123Z"


def stored_evidence(statement: dict[str, Any], pass_score: float = PASS_SCORE) -> list[Evidence]:
    """The evidence of `statement` once stored (at STORED)."""
    return evidence_of({**statement, "stored": STORED}, pass_score)


def only(statement: dict[str, Any], pass_score: float = PASS_SCORE) -> Evidence:
    """The evidence a statement without context gives about its object."""
    (evidence,) = stored_evidence(statement, pass_score)
    assert evidence.relation == "object"
    return evidence


def scored(score: dict[str, Any], verb: str = "answered") -> dict[str, Any]:
    return said("ann", verb, ITEM, AT, result={"score": score})


class TestRecallOutcome:
    """evidence.py: result.success when present, else the verb (passed / failed), else the
    score at or above the pass score."""

    @pytest.mark.parametrize("success", [True, False])
    def test_answered_takes_result_success(self, success: bool) -> None:
        evidence = only(said("ann", "answered", ITEM, AT, result={"success": success}))
        assert evidence.correct is success
        assert evidence.learner == key_of("ann")
        assert evidence.verb == ADL + "answered"
        assert evidence.at == START
        assert evidence.stored == datetime(2026, 3, 4, 10, 0, 0, 123000, tzinfo=UTC)

    def test_success_outweighs_the_score(self) -> None:
        statement = said(
            "ann", "answered", ITEM, AT, result={"success": False, "score": {"scaled": 1.0}}
        )
        assert only(statement).correct is False

    def test_success_outweighs_the_verb(self) -> None:
        assert only(said("ann", "passed", QUIZ, AT, result={"success": False})).correct is False
        assert only(said("ann", "failed", QUIZ, AT, result={"success": True})).correct is True

    @pytest.mark.parametrize(("verb", "correct"), [("passed", True), ("failed", False)])
    def test_passed_or_failed_without_success_take_the_verb(self, verb: str, correct: bool) -> None:
        # Even a score on the other side of the pass score does not change it.
        score = {"scaled": 0.1 if correct else 0.9}
        assert only(said("ann", verb, QUIZ, AT)).correct is correct
        assert only(scored(score, verb)).correct is correct

    @pytest.mark.parametrize(
        ("score", "correct"),
        [
            ({"scaled": 0.5}, True),  # at the pass score counts as right
            ({"scaled": 0.49}, False),
            ({"scaled": -0.2}, False),
            ({"raw": 5, "min": 0, "max": 10}, True),
            ({"raw": 4, "min": 0, "max": 10}, False),
            ({"raw": 15, "min": 10, "max": 20}, True),  # raw placed within min..max
            ({"raw": 14, "min": 10, "max": 20}, False),
        ],
    )
    def test_answered_with_only_a_score_uses_the_default_pass_score(
        self, score: dict[str, Any], correct: bool
    ) -> None:
        assert only(scored(score)).correct is correct

    def test_answered_with_only_a_score_uses_the_configured_pass_score(self) -> None:
        assert only(scored({"scaled": 0.7}), pass_score=0.8).correct is False
        assert only(scored({"scaled": 0.8}), pass_score=0.8).correct is True
        assert only(scored({"raw": 8, "min": 0, "max": 10}), pass_score=0.8).correct is True

    def test_a_raw_score_is_scaled_within_min_and_max(self) -> None:
        evidence = only(scored({"raw": 15, "min": 10, "max": 30}))
        assert evidence.scaled == pytest.approx(0.25)

    @pytest.mark.parametrize(
        "result",
        [
            {},
            {"completion": True},
            {"score": {"raw": 7}},  # raw without min and max cannot be placed
            {"score": {"raw": 7, "min": 5, "max": 5}},
        ],
    )
    def test_answered_with_neither_success_nor_score_has_no_outcome(
        self, result: dict[str, Any]
    ) -> None:
        assert only(said("ann", "answered", ITEM, AT, result=result)).correct is None

    def test_other_verbs_are_no_recall_events(self) -> None:
        statement = said("ann", "experienced", ITEM, AT, result={"success": True})
        assert only(statement).correct is None


class TestProgressEvidence:
    def test_completed_verb_or_result_completion_completes(self) -> None:
        assert only(said("ann", "completed", COURSE, AT)).completed is True
        assert only(said("ann", "experienced", COURSE, AT, result={"completion": True})).completed
        assert not only(said("ann", "experienced", COURSE, AT)).completed

    def test_the_cmi5_progress_extension(self) -> None:
        extension = {"https://w3id.org/xapi/cmi5/result/extensions/progress": 40}
        statement = said("ann", "progressed", COURSE, AT, result={"extensions": extension})
        assert only(statement).progress == 40.0


class TestNoEvidence:
    """evidence.py: statements by Groups, about non-Activity objects, and voiding statements
    carry none."""

    def test_a_group_actor(self) -> None:
        statement = said("ann", "answered", ITEM, AT, result={"success": True})
        statement["actor"] = {
            "objectType": "Group",
            "mbox": "mailto:team@corp.example.com",
            "member": [{"mbox": "mailto:ann@corp.example.com"}],
        }
        assert stored_evidence(statement, PASS_SCORE) == []

    def test_a_statement_ref_object(self) -> None:
        statement = said("ann", "answered", ITEM, AT, result={"success": True})
        statement["object"] = {"objectType": "StatementRef", "id": statement["id"]}
        assert stored_evidence(statement, PASS_SCORE) == []

    def test_an_agent_object(self) -> None:
        statement = said("ann", "experienced", ITEM, AT)
        statement["object"] = {"objectType": "Agent", "mbox": "mailto:bo@corp.example.com"}
        assert stored_evidence(statement, PASS_SCORE) == []

    def test_a_voiding_statement(self) -> None:
        statement = {**voiding("8f1c1a52-4b4e-4a0e-9b53-2e7a3b1d1c11"), "timestamp": AT}
        assert stored_evidence(statement, PASS_SCORE) == []


class TestRelations:
    """evidence.py: evidence about the object, each parent and each grouping; an Activity
    named twice keeps its closest relation."""

    def test_object_parent_and_grouping(self) -> None:
        evidence = stored_evidence(answer("ann", True, AT), PASS_SCORE)
        assert {item.activity_id: item.relation for item in evidence} == {
            ITEM: "object",
            QUIZ: "parent",
            COURSE: "grouping",
        }
        # Every relation carries the same outcome: a parent's mastery reads it too.
        assert {item.correct for item in evidence} == {True}

    def test_an_activity_named_twice_keeps_its_closest_relation(self) -> None:
        statement = said(
            "ann",
            "answered",
            ITEM,
            AT,
            result={"success": True},
            parents=(ITEM, QUIZ, QUIZ),
            grouping=(QUIZ, ITEM, COURSE),
        )
        evidence = stored_evidence(statement, PASS_SCORE)
        assert sorted((item.activity_id, item.relation) for item in evidence) == sorted(
            [(ITEM, "object"), (QUIZ, "parent"), (COURSE, "grouping")]
        )

    def test_time_spent_counts_toward_every_relation(self) -> None:
        statement = said("ann", "answered", ITEM, AT, result={"duration": "PT90S"}, parents=(QUIZ,))
        assert [item.seconds for item in stored_evidence(statement, PASS_SCORE)] == [90.0, 90.0]

    @pytest.mark.parametrize(
        "timestamp",
        [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00.123456789+05:30",  # past microseconds: cut, not rounded
            "20260101T000000Z",
            "2026-01-01T00:00:00,5Z",
            "2026-01-01T00:00Z",
            "2026-01-01T00:00:00",  # no zone: UTC (Data 4.5.s1.b4)
            "2026-01-01T00:00:00+0530",
            "2026-01-01T00:00:00+05",
            "2026-01-01T00:00:00.1z",
            "2026-01-01t00:00:00Z",
            "2026-01-01T00:00:00.5-08:00",
        ],
    )
    def test_the_moment_is_the_one_validation_reads(self, timestamp: str) -> None:
        """Data 4.5: evidence is placed at the instant statement validation reads."""
        (evidence,) = stored_evidence(said("ann", "experienced", ITEM, timestamp))
        assert evidence.at == parse_timestamp(timestamp, "timestamp").astimezone(UTC)
        assert evidence.at.utcoffset() == timedelta(0)

    @pytest.mark.parametrize(
        ("verb", "seconds"),
        [
            ("http://adlnet.gov/expapi/verbs/terminated", 600.0),
            ("https://w3id.org/xapi/adl/verbs/abandoned", 600.0),
            ("http://adlnet.gov/expapi/verbs/completed", None),
            ("http://adlnet.gov/expapi/verbs/passed", None),
            ("http://example.com/verbs/watched", None),  # a cmi5 allowed statement
        ],
    )
    def test_a_cmi5_session_counts_its_total_once(self, verb: str, seconds: float | None) -> None:
        """cmi5 9.5.4.1 / 9.5.4.2: terminated (the AU) and abandoned (the LMS) carry the
        session's total time; the time up to completed, passed or failed lies within it."""
        session = {"https://w3id.org/xapi/cmi5/context/extensions/sessionid": "s-1"}
        statement = said("ann", "completed", ITEM, AT, result={"duration": "PT10M"})
        statement["verb"]["id"] = verb
        statement["context"] = {"extensions": session}
        assert [item.seconds for item in stored_evidence(statement, PASS_SCORE)] == [seconds]


class TestDuration:
    @pytest.mark.parametrize(
        ("duration", "seconds"),
        [
            ("PT1H30M", 5400.0),
            ("P1DT0.5S", 86400.5),
            ("PT0S", 0.0),
            ("P2W", 14 * 86400.0),
            ("PT1,5M", 90.0),  # ISO 8601 allows a decimal comma
        ],
    )
    def test_iso_8601_durations_in_seconds(self, duration: str, seconds: float) -> None:
        assert duration_seconds(duration) == pytest.approx(seconds)


# --- Bayesian Knowledge Tracing -------------------------------------------------------------

PARAMETERS = bkt.Parameters(p_init=0.4, p_learn=0.2, p_slip=0.15, p_guess=0.25)


class TestBktUpdate:
    """Corbett & Anderson 1995: the posterior given the answer, then the chance to learn."""

    def test_a_right_answer(self) -> None:
        # P(L|right) = .4 * .85 / (.4 * .85 + .6 * .25) = .34 / .49; then + (1 - it) * .2.
        posterior = 0.34 / 0.49
        expected = posterior + (1 - posterior) * 0.2
        assert bkt.update(0.4, True, PARAMETERS) == pytest.approx(expected, abs=1e-12)
        assert expected == pytest.approx(0.755102, abs=1e-6)

    def test_a_wrong_answer(self) -> None:
        # P(L|wrong) = .4 * .15 / (.4 * .15 + .6 * .75) = .06 / .51; then + (1 - it) * .2.
        posterior = 0.06 / 0.51
        expected = posterior + (1 - posterior) * 0.2
        assert bkt.update(0.4, False, PARAMETERS) == pytest.approx(expected, abs=1e-12)
        assert expected == pytest.approx(0.294118, abs=1e-6)

    def test_the_first_answer_starts_from_p_init(self) -> None:
        for correct in (True, False):
            assert bkt.update(None, correct, PARAMETERS) == bkt.update(0.4, correct, PARAMETERS)

    def test_mastery_from_a_sequence(self) -> None:
        mastery = None
        for correct in (True, True, False, True):
            mastery = bkt.update(mastery, correct, bkt.DEFAULT)
        # By hand with L0 .3, T .1, S .1, G .2: .692683, .919231, .628501, .895508.
        assert mastery == pytest.approx(0.895508, abs=1e-6)

    def test_predict_correct(self) -> None:
        # P(right) = P(L) (1 - S) + (1 - P(L)) G.
        assert bkt.predict_correct(0.6, PARAMETERS) == pytest.approx(0.6 * 0.85 + 0.4 * 0.25)
        assert bkt.predict_correct(1.0, PARAMETERS) == pytest.approx(0.85)
        assert bkt.predict_correct(0.0, PARAMETERS) == pytest.approx(0.25)


def simulate(truth: bkt.Parameters, learners: int, seed: int) -> list[list[bool]]:
    """Answer sequences drawn from BKT's generative model with `truth`."""
    rng = random.Random(seed)
    sequences = []
    for _ in range(learners):
        knows = rng.random() < truth.p_init
        answers = []
        for _ in range(rng.randint(5, 12)):
            answers.append(rng.random() < (1 - truth.p_slip if knows else truth.p_guess))
            knows = knows or rng.random() < truth.p_learn
        sequences.append(answers)
    return sequences


class TestBktFit:
    def test_fit_recovers_the_parameters_it_was_simulated_from(self) -> None:
        """EM on ~2000 simulated learners lands within 0.03 of each true parameter."""
        truth = bkt.Parameters(p_init=0.25, p_learn=0.15, p_slip=0.08, p_guess=0.22)
        sequences = simulate(truth, 2000, seed=11)
        fitted = bkt.fit(sequences)  # about 0.6 s
        for name, value in truth.as_dict().items():
            assert fitted.parameters.as_dict()[name] == pytest.approx(value, abs=0.03), name
        assert fitted.sequences == 2000
        assert fitted.observations == sum(map(len, sequences))
        assert 1 < fitted.iterations < 200

    def test_the_fit_is_more_likely_than_the_start(self) -> None:
        sequences = simulate(bkt.Parameters(0.5, 0.3, 0.05, 0.3), 300, seed=3)
        one_step = bkt.fit(sequences, max_iterations=1)
        converged = bkt.fit(sequences)
        assert converged.log_likelihood > one_step.log_likelihood

    def test_empty_sequences_are_not_counted(self) -> None:
        fitted = bkt.fit([[True, False], [], [True]])
        assert (fitted.sequences, fitted.observations) == (2, 3)

    def test_slip_and_guess_stay_below_one_half(self) -> None:
        """Bounds keep "knows it" the state that answers better: answers that are mostly
        wrong cannot make slip or guess pass 0.45."""
        sequences = simulate(bkt.Parameters(0.9, 0.1, 0.7, 0.7), 200, seed=5)
        fitted = bkt.fit(sequences).parameters
        assert fitted.p_slip <= 0.45
        assert fitted.p_guess <= 0.45


# --- FSRS memory ---------------------------------------------------------------------------


class TestRating:
    """memory.py: wrong is Again; right with a scaled score below 0.75 is Hard; else Good."""

    @pytest.mark.parametrize(
        ("correct", "scaled", "expected"),
        [
            (False, None, Rating.Again),
            (False, 1.0, Rating.Again),
            (True, 0.74, Rating.Hard),
            (True, -1.0, Rating.Hard),
            (True, 0.75, Rating.Good),
            (True, 1.0, Rating.Good),
            (True, None, Rating.Good),
        ],
    )
    def test_rating(self, correct: bool, scaled: float | None, expected: Rating) -> None:
        assert memory.rating(correct, scaled) == expected

    @pytest.mark.parametrize(
        ("correct", "scaled", "rated"),
        [(False, None, Rating.Again), (True, 0.5, Rating.Hard), (True, None, Rating.Good)],
    )
    def test_a_first_review_starts_at_the_ratings_initial_stability(
        self, correct: bool, scaled: float | None, rated: Rating
    ) -> None:
        """FSRS: the first review's stability is w[rating - 1]."""
        first = memory.DEFAULT.review(None, correct, scaled, START)
        assert first.stability == pytest.approx(memory.DEFAULT.scheduler.parameters[rated - 1])
        assert (first.reviews, first.last_review) == (1, START)


def history(*answers: tuple[float, bool]) -> memory.Memory:
    """The memory after right/wrong answers at the given days after START."""
    state = None
    for day, correct in answers:
        state = memory.DEFAULT.review(state, correct, None, START + timedelta(days=day))
    assert state is not None
    return state


class TestForgettingCurve:
    def test_retrievability_is_nine_tenths_after_stability_days(self) -> None:
        """Stability is the number of days until recall falls to 90 %."""
        for remembered in (history((0, True)), history((0, True), (3, True), (10, False))):
            at = remembered.last_review + timedelta(days=remembered.stability)
            assert memory.DEFAULT.retrievability(remembered, at) == pytest.approx(0.9, abs=1e-12)
            assert memory.DEFAULT.retrievability(remembered, remembered.last_review) == 1.0

    def test_retrievability_agrees_with_fsrs_at_whole_days(self) -> None:
        remembered = history((0, True), (4, True))
        card = remembered.card()
        for days in (1, 7, 30):
            at = remembered.last_review + timedelta(days=days)
            assert memory.DEFAULT.retrievability(remembered, at) == pytest.approx(
                memory.DEFAULT.scheduler.get_card_retrievability(card, at), abs=1e-12
            )

    @pytest.mark.parametrize("retention", [0.7, 0.8, 0.95])
    def test_next_review_is_where_recall_falls_to_the_retention(self, retention: float) -> None:
        remembered = history((0, True), (2, True))
        due = memory.DEFAULT.next_review(remembered, retention)
        assert memory.DEFAULT.retrievability(remembered, due) == pytest.approx(retention, abs=1e-9)
        assert memory.DEFAULT.days_per_stability(0.9) == pytest.approx(1.0)
        # A lower target is reached later.
        if retention < 0.9:
            assert due > remembered.last_review + timedelta(days=remembered.stability)
        else:
            assert due < remembered.last_review + timedelta(days=remembered.stability)

    def test_a_wrong_answer_leaves_less_stability_than_a_right_one(self) -> None:
        before = ((0.0, True), (3.0, True))
        wrong = history(*before, (10, False))
        right = history(*before, (10, True))
        assert wrong.stability < right.stability
        assert wrong.reviews == right.reviews == 3

    def test_the_curve_is_non_increasing(self) -> None:
        remembered = history((0, True), (1, False), (2, True))
        moments = memory.curve_moments(remembered.last_review - timedelta(days=2), 60)
        assert len(moments) == 61
        assert moments[1] - moments[0] == timedelta(days=1)
        values = [memory.DEFAULT.retrievability(remembered, moment) for moment in moments]
        assert values[:3] == [1.0, 1.0, 1.0]  # before and at the last review: just recalled
        assert all(later <= earlier for earlier, later in pairwise(values))
        assert values[-1] < values[3]


class TestForgettingFit:
    """Issue 8: per-tenant optimised FSRS parameters where enough data exists. The fit is
    judged on the latest 20 % of reviews before it is kept (analytics/memory.py `fit`)."""

    def test_parameters_that_predict_held_out_reviews_better_are_kept(self) -> None:
        fit = memory.fit(simulated_reviews([SLOW_GROWTH], seed=1))
        assert fit.verdict == "fitted"
        assert fit.parameters is not None
        assert len(fit.parameters) == 21
        assert fit.parameters != memory.DEFAULT.parameters
        assert fit.log_loss is not None
        assert fit.default_log_loss is not None
        assert fit.log_loss < fit.default_log_loss
        # 110 items x 7 reviews after the first, each a day or more after the one before.
        assert (fit.reviews, fit.held_out) == (770, 176)

    def test_a_fit_the_held_out_reviews_do_not_bear_out_is_not_kept(self) -> None:
        """The learners' memory changed (from day 110 it follows the default curve): what
        the earlier reviews teach predicts the latest worse than the defaults."""
        histories = simulated_reviews([SLOW_GROWTH, memory.DEFAULT], seed=1, switch_day=110)
        fit = memory.fit(histories)
        assert fit.parameters is None
        assert fit.verdict == "no better than the defaults on the held-out reviews"
        assert fit.log_loss is not None
        assert fit.default_log_loss is not None
        assert fit.log_loss >= fit.default_log_loss

    def test_too_few_spaced_reviews_keep_the_defaults_without_fitting(self) -> None:
        """Reviews minutes apart are not what the curve predicts; they do not count."""
        histories = simulated_reviews([SLOW_GROWTH], seed=1, items=73)  # 511 spaced reviews
        same_day = [
            [(START + timedelta(minutes=minute), True, None) for minute in range(10)]
            for _ in range(100)
        ]
        fit = memory.fit([*histories, *same_day])
        assert (fit.parameters, fit.reviews, fit.held_out) == (None, 511, 0)
        assert fit.verdict == "fewer than 512 spaced reviews"

    def test_without_the_optimiser_the_defaults_stay(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """`fsrs` without torch (the optimizer extra not installed), as it imports then."""
        monkeypatch.setitem(sys.modules, "torch", None)
        monkeypatch.delitem(sys.modules, "fsrs.optimizer", raising=False)
        monkeypatch.setattr(fsrs, "optimizer", None, raising=False)
        fit = memory.fit(simulated_reviews([SLOW_GROWTH], seed=1))
        assert (fit.parameters, fit.decided) == (None, False)  # a kept curve stays
        assert fit.verdict.startswith("the FSRS optimiser is not installed (lrs[optimizer])")

    def test_reviews_past_an_items_64th_are_not_counted(self) -> None:
        """The optimiser reads each item's first 64 reviews: 7 items x 120 reviews two days
        apart are 7 x 63 spaced reviews to it, too few."""
        every_other_day = [(START + timedelta(days=2 * i), True, None) for i in range(120)]
        fit = memory.fit([every_other_day] * 7)
        assert (fit.parameters, fit.reviews) == (None, 441)
        assert fit.verdict == "fewer than 512 spaced reviews"

    def test_held_out_log_loss_scores_the_spaced_reviews_from_the_cutoff(self) -> None:
        history = [
            (START, True, None),
            (START + timedelta(hours=2), False, None),  # same day: not scored
            (START + timedelta(days=3), True, None),
            (START + timedelta(days=9), False, None),
        ]
        cutoff = START + timedelta(days=3)
        curve = memory.DEFAULT
        state = None
        for at, correct, scaled in history[:3]:
            state = curve.review(state, correct, scaled, at)
        before_day_9 = state
        assert before_day_9 is not None
        before_day_3 = curve.review(
            curve.review(None, True, None, START), False, None, history[1][0]
        )
        expected = (
            -(
                math.log(curve.retrievability(before_day_3, history[2][0]))
                + math.log(1 - curve.retrievability(before_day_9, history[3][0]))
            )
            / 2
        )
        loss, scored = memory.held_out_log_loss(curve, [history], cutoff)
        assert scored == 2
        assert loss == pytest.approx(expected, abs=1e-12)
