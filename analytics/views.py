"""What the learner models answer, as tables: each view is a list of rows with named
columns, one page at a time (JSON or CSV is the route's business). An estimate that rests on
fewer than `min_observations` observations says so in its `estimate` column ("few
observations") instead of passing for a fact."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy
from sqlalchemy.ext.asyncio import AsyncSession

from analytics import bkt, memory, store
from analytics.bkt import for_skill
from analytics.learner import ActivityState
from analytics.store import Cursor, ModelFilter
from analytics.totals import MASTERED, TENTHS
from cmi5.service import Cmi5, OutlineNode
from cmi5.store import LearnerChoice, LearnerKey, Progress
from lrs.errors import NotFound
from lrs.middleware import utc_timestamp

FEW = "few observations"
ENOUGH = "ok"


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    next_after: Cursor | None = None  # where the next page starts; None: this is the last
    meta: dict[str, Any] = field(default_factory=dict)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else utc_timestamp(moment)


def _estimate(observations: int, min_observations: int) -> str:
    return ENOUGH if observations >= min_observations else FEW


def _ratio(part: int, whole: int) -> float | None:
    return None if not whole else part / whole


async def _page(
    session: AsyncSession,
    scope: ModelFilter,
    after: Cursor | None,
    limit: int,
    **only: Any,
) -> tuple[store.Page, Cursor | None]:
    page = await store.states_page(session, scope, after=after, limit=limit + 1, **only)
    more = len(page) > limit
    page = page[:limit]
    last = page[-1] if more else None
    return page, (last[0], last[1].learner, last[1].activity_id) if last else None


PROGRESS_COLUMNS = (
    "tenant", "learner", "activity", "status", "completion", "seconds", "statements",
    "first_at", "last_at", "completed_at", "outcome", "first_outcome", "attempts",
    "best_score",
)  # fmt: skip


async def progress(
    session: AsyncSession,
    scope: ModelFilter,
    names: Mapping[int, str],
    after: Cursor | None,
    limit: int,
) -> Table:
    page, next_after = await _page(session, scope, after, limit)
    rows = [
        {
            "tenant": names[tenant_id],
            "learner": state.learner,
            "activity": state.activity_id,
            "status": state.status,
            "completion": state.completion,
            "seconds": state.seconds,
            "statements": state.statements,
            "first_at": _time(state.first_at),
            "last_at": _time(state.last_at),
            "completed_at": _time(state.completed_at),
            "outcome": state.outcome,
            "first_outcome": state.first_outcome,
            "attempts": state.attempts,
            "best_score": state.best_score,
        }
        for tenant_id, state in page
    ]
    return Table(PROGRESS_COLUMNS, rows, next_after)


COHORT_PROGRESS_COLUMNS = (
    "activity", "learners", "completed", "completion_rate", "assessed", "passed",
    "pass_rate", "first_attempt_pass_rate", "retakes", "mean_seconds", "estimate",
)  # fmt: skip


async def progress_summary(
    session: AsyncSession, scope: ModelFilter, min_observations: int
) -> Table:
    """Completion and pass rates per Activity over the learners in scope. Pass rates count
    the learners with an outcome: first attempt (their first passed / failed) and final
    (their latest)."""
    rows = [
        {
            "activity": row.activity_id,
            "learners": row.learners,
            "completed": row.completed,
            "completion_rate": _ratio(row.completed, row.learners),
            "assessed": row.assessed,
            "passed": row.passed,
            "pass_rate": _ratio(row.passed, row.assessed),
            "first_attempt_pass_rate": _ratio(row.passed_first, row.assessed),
            "retakes": row.retakes,
            "mean_seconds": row.seconds / row.learners,
            "estimate": _estimate(row.learners, min_observations),
        }
        for row in await store.activity_totals(session, scope)
    ]
    return Table(COHORT_PROGRESS_COLUMNS, rows)


EVALUATION_COLUMNS = (
    "activity", "learners", "pre_tested", "post_tested", "paired", "mean_pre", "mean_post",
    "class_gain", "mean_gain", "estimate", "responses", "respondents", "mean_reaction",
    "reaction_estimate", "assessed", "pass_rate", "first_attempt_pass_rate", "retakes",
    "indicators",
)  # fmt: skip
Learner = tuple[int, str]  # (tenant id, learner)


@dataclass
class _Course:
    """One Activity's evaluation evidence, per learner: the first pre-test score, the last
    post-test score and its time, the survey scores."""

    learners: set[Learner] = field(default_factory=set)
    pre: dict[Learner, float] = field(default_factory=dict)
    post: dict[Learner, tuple[datetime, float]] = field(default_factory=dict)
    reactions: dict[Learner, list[float]] = field(default_factory=lambda: defaultdict(list))


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _normalised_gain(pre: float, post: float) -> float | None:
    """Hake's g: the share of the possible improvement that was made."""
    return None if pre >= 1 else (post - pre) / (1 - pre)


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    try:
        return statistics.correlation(xs, ys)
    except statistics.StatisticsError:  # fewer than two, or one side constant
        return None


def _indicator_effects(
    course: _Course,
    indicators: Mapping[str, Mapping[Learner, list[tuple[datetime, float]]]],
    min_observations: int,
) -> list[dict[str, Any]]:
    """Per indicator: how it correlates with the post-test score over the learners with
    both, and its mean before and after each learner's post-test (learners with both)."""
    effects = []
    for indicator, by_learner in sorted(indicators.items()):
        tested = [who for who in course.post if who in by_learner]
        if not tested:
            continue
        scores = [course.post[who][1] for who in tested]
        means = [statistics.fmean(value for _, value in by_learner[who]) for who in tested]
        before, after = [], []
        for who in tested:
            taken = course.post[who][0]
            earlier = [value for at, value in by_learner[who] if at < taken]
            later = [value for at, value in by_learner[who] if at >= taken]
            if earlier and later:
                before.append(statistics.fmean(earlier))
                after.append(statistics.fmean(later))
        effects.append(
            {
                "indicator": indicator,
                "learners": len(tested),
                "correlation_with_post": _correlation(scores, means),
                "learners_before_after": len(before),
                "mean_before": _mean(before),
                "mean_after": _mean(after),
                "estimate": _estimate(len(tested), min_observations),
            }
        )
    return effects


async def evaluation(session: AsyncSession, scope: ModelFilter, min_observations: int) -> Table:
    """Per Activity with pre-test, post-test or survey evidence (a course, through the
    tests' context, or a test itself), Kirkpatrick's levels: reaction (survey scores),
    learning (pre/post-test normalised gain, pass rates, retakes), results (performance
    indicators against the post-test). Scores are scaled, 0-1."""
    courses: dict[str, _Course] = defaultdict(_Course)
    indicators: dict[str, dict[Learner, list[tuple[datetime, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in await store.evaluation_evidence(session, scope):
        who = (row.tenant_id, row.learner)
        if row.phase == "indicator":
            if row.relation == "object" and row.value is not None:
                indicators[row.activity_id][who].append((row.at, row.value))
            continue
        course = courses[row.activity_id]
        course.learners.add(who)
        if row.scaled is None:
            continue
        if row.phase == "pre":
            course.pre.setdefault(who, row.scaled)  # rows come in time order: the first
        elif row.phase == "post":
            course.post[who] = (row.at, row.scaled)  # the last
        else:
            course.reactions[who].append(row.scaled)
    outcomes = {}
    if courses:
        summary = await store.activity_totals(session, scope, courses.keys())
        outcomes = {row.activity_id: row for row in summary}
    rows = []
    for activity, course in sorted(courses.items()):
        paired = [who for who in course.pre if who in course.post]
        pre = [course.pre[who] for who in paired]
        post = [course.post[who][1] for who in paired]
        gains = [_normalised_gain(a, b) for a, b in zip(pre, post, strict=True)]
        mean_pre, mean_post = _mean(pre), _mean(post)
        responses = [score for scores in course.reactions.values() for score in scores]
        outcome = outcomes.get(activity)
        assessed = outcome.assessed if outcome else 0
        rows.append(
            {
                "activity": activity,
                "learners": len(course.learners),
                "pre_tested": len(course.pre),
                "post_tested": len(course.post),
                "paired": len(paired),
                "mean_pre": mean_pre,
                "mean_post": mean_post,
                "class_gain": (
                    _normalised_gain(mean_pre, mean_post)
                    if mean_pre is not None and mean_post is not None
                    else None
                ),
                "mean_gain": _mean([gain for gain in gains if gain is not None]),
                "estimate": _estimate(len(paired), min_observations),
                "responses": len(responses),
                "respondents": len(course.reactions),
                "mean_reaction": _mean(responses),
                "reaction_estimate": _estimate(len(responses), min_observations),
                "assessed": assessed,
                "pass_rate": _ratio(outcome.passed, assessed) if outcome else None,
                "first_attempt_pass_rate": (
                    _ratio(outcome.passed_first, assessed) if outcome else None
                ),
                "retakes": outcome.retakes if outcome else 0,
                "indicators": _indicator_effects(course, indicators, min_observations),
            }
        )
    return Table(EVALUATION_COLUMNS, rows)


MASTERY_COLUMNS = (
    "tenant", "learner", "skill", "mastery", "mastered", "next_correct", "answers", "correct",
    "estimate",
)  # fmt: skip


async def mastery(
    session: AsyncSession,
    scope: ModelFilter,
    names: Mapping[int, str],
    after: Cursor | None,
    limit: int,
    min_observations: int,
) -> Table:
    """`next_correct`: the probability that the learner's next answer is right."""
    page, next_after = await _page(session, scope, after, limit, answered=True)
    tenants = {tenant_id for tenant_id, _ in page}
    parameters = {tenant_id: await store.parameters(session, tenant_id) for tenant_id in tenants}
    rows = [
        {
            "tenant": names[tenant_id],
            "learner": state.learner,
            "skill": state.activity_id,
            "mastery": state.mastery,
            "mastered": (state.mastery or 0.0) >= MASTERED,
            "next_correct": bkt.predict_correct(
                state.mastery or 0.0, for_skill(parameters[tenant_id], state.activity_id)
            ),
            "answers": state.answers,
            "correct": state.correct,
            "estimate": _estimate(state.answers, min_observations),
        }
        for tenant_id, state in page
    ]
    return Table(MASTERY_COLUMNS, rows, next_after, {"mastered_at": MASTERED})


COHORT_MASTERY_COLUMNS = (
    "skill", "learners", "mean_mastery", "mastered", "mastered_rate", "answers",
    "distribution", "estimate",
)  # fmt: skip


async def mastery_summary(
    session: AsyncSession, scope: ModelFilter, min_observations: int
) -> Table:
    """Per skill: how mastery is spread over the learners in scope; `distribution` counts
    learners per tenth of the probability (0-0.1, ..., 0.9-1)."""
    rows = [
        {
            "skill": row.activity_id,
            "learners": row.answered,
            "mean_mastery": row.mastery_sum / row.answered,
            "mastered": row.mastered,
            "mastered_rate": _ratio(row.mastered, row.answered),
            "answers": row.answers,
            "distribution": [getattr(row, name) for name in TENTHS],
            "estimate": _estimate(row.answered, min_observations),
        }
        for row in await store.activity_totals(session, scope)
        if row.answered
    ]
    return Table(COHORT_MASTERY_COLUMNS, rows, meta={"mastered_at": MASTERED})


MEMORY_COLUMNS = (
    "tenant", "learner", "item", "retrievability", "stability", "difficulty", "reviews",
    "last_review", "next_review", "due", "estimate",
)  # fmt: skip


def _memory_row(
    tenant: str,
    forgetting: memory.Forgetting,
    state: ActivityState,
    at: datetime,
    retention: float,
    min_observations: int,
) -> dict[str, Any]:
    remembered = state.memory
    assert remembered is not None
    next_review = forgetting.next_review(remembered, retention)
    return {
        "tenant": tenant,
        "learner": state.learner,
        "item": state.activity_id,
        "retrievability": forgetting.retrievability(remembered, at),
        "stability": remembered.stability,
        "difficulty": remembered.difficulty,
        "reviews": remembered.reviews,
        "last_review": _time(remembered.last_review),
        "next_review": _time(next_review),
        "due": next_review <= at,
        "estimate": _estimate(remembered.reviews, min_observations),
    }


async def memories(
    session: AsyncSession,
    scope: ModelFilter,
    names: Mapping[int, str],
    after: Cursor | None,
    limit: int,
    *,
    at: datetime,
    retention: float,
    min_observations: int,
    due_only: bool,
) -> Table:
    """Each item's forgetting curve read at `at`; `due_only`: just the items whose recall
    has fallen to `retention` by then, the review list. Each tenant's own curve reads its
    memories (`lrs analytics fit`)."""
    curves = await store.forgetting(session, scope.tenant_ids)
    per_stability = {
        tenant_id: forgetting.days_per_stability(retention)
        for tenant_id, forgetting in curves.items()
    }
    page, next_after = await _page(
        session,
        scope,
        after,
        limit,
        due=(at, per_stability) if due_only else None,
        remembered=True,
    )
    rows = [
        _memory_row(names[tenant_id], curves[tenant_id], state, at, retention, min_observations)
        for tenant_id, state in page
    ]
    meta = {"at": utc_timestamp(at), "retention": retention}
    return Table(MEMORY_COLUMNS, rows, next_after, meta)


CURVE_COLUMNS = ("day", "at", "retrievability", "memories")


async def retention_curve(
    session: AsyncSession, scope: ModelFilter, start: datetime, days: int
) -> Table:
    """The mean recall probability over the memories in scope (one learner's item, or a
    cohort's items), at `start` and each of the next `days` days, each on its tenant's curve
    (one read per curve among the tenants in scope: usually one, the defaults)."""
    by_curve: dict[memory.Forgetting, list[int]] = defaultdict(list)
    for tenant_id, forgetting in (await store.forgetting(session, scope.tenant_ids)).items():
        by_curve[forgetting].append(tenant_id)
    sums, count = numpy.zeros(days + 1), 0
    for forgetting, tenant_ids in by_curve.items():
        ages, stabilities = await store.memory_ages(
            session, replace(scope, tenant_ids=tuple(tenant_ids)), start
        )
        if ages:
            elapsed, stability = numpy.array(ages, dtype=float), numpy.array(stabilities)
            sums += [forgetting.recall(elapsed + day, stability).sum() for day in range(days + 1)]
            count += len(ages)
    means = [float(total / count) if count else None for total in sums]
    points = memory.curve_moments(start, days)
    rows = [
        {
            "day": day,
            "at": utc_timestamp(moment),
            "retrievability": means[day],
            "memories": count,
        }
        for day, moment in enumerate(points)
    ]
    return Table(CURVE_COLUMNS, rows)


COURSE_COLUMNS = (
    "tenant", "learner", "course", "node", "kind", "title", "parent", "depth", "activity",
    "move_on", "status", "satisfied", "completed", "passed", "waived", "completion", "aus",
    "aus_satisfied", "seconds", "statements", "first_at", "last_at",
)  # fmt: skip


_NOT_MET = Progress()
_NONE: store.Effort = (0, 0.0, 0.0)  # the effort of a learner without a model


def _au_completion(flags: Progress, model_completion: float) -> float:
    """An AU is 100 % complete once satisfied or completed, else as far as its model says."""
    return 100.0 if flags.satisfied or flags.completed else model_completion


def _node_columns(node: OutlineNode) -> dict[str, Any]:
    return {
        "node": node.id,
        "kind": node.kind,
        "title": node.title,
        "parent": node.parent,
        "depth": node.depth,
    }


def course_tree(
    outline: list[OutlineNode],
    met: Mapping[str, Progress],
    models: Mapping[str, ActivityState],
) -> list[dict[str, Any]]:
    """One learner's progress through a cmi5 course, a row per node in the outline's order.
    An AU is 100 % complete once satisfied (its moveOn met, waived, or needing nothing) or
    completed, else as far as it reported (`models`: the learner's, by Activity id); a block
    or the course is the mean of its AUs. Time and statements add up the AUs' and the
    node's own (the LMS's satisfied statements)."""
    au_activity = {node.id: node.activity_id for node in outline if node.kind == "au"}

    def au_completion(au: str) -> float:
        state = models.get(au_activity[au])
        return _au_completion(met.get(au, _NOT_MET), state.completion if state else 0.0)

    rows = []
    for node in outline:
        flags = met.get(node.id, _NOT_MET)
        own = models.get(node.activity_id)
        is_au = node.kind == "au"
        sources = [own] if is_au else [own, *(models.get(au_activity[au]) for au in node.aus)]
        found = [state for state in sources if state is not None]
        if flags.satisfied:
            status = "waived" if flags.waived else "satisfied"
        elif is_au:
            status = own.status if own else "not attempted"
        else:
            status = "started" if found else "not attempted"
        completed = flags.completed or (own is not None and own.completed_at is not None)
        rows.append(
            {
                **_node_columns(node),
                "activity": node.activity_id,
                "move_on": node.move_on,
                "status": status,
                "satisfied": flags.satisfied,
                "completed": completed if is_au else None,
                "passed": flags.passed if is_au else None,
                "waived": flags.waived if is_au else None,
                "completion": statistics.fmean(au_completion(au) for au in node.aus),
                "aus": len(node.aus),
                "aus_satisfied": sum(met.get(au, _NOT_MET).satisfied for au in node.aus),
                "seconds": sum(state.seconds for state in found),
                "statements": sum(state.statements for state in found),
                "first_at": _time(min((state.first_at for state in found), default=None)),
                "last_at": _time(max((state.last_at for state in found), default=None)),
            }
        )
    return rows


async def _course_learners(
    session: AsyncSession,
    scope: ModelFilter,
    courses: Cmi5,
    course_id: str,
    after: Cursor | None = None,
    limit: int | None = None,
) -> tuple[dict[int, list[OutlineNode]], list[tuple[LearnerKey, list[dict[str, Any]]]]]:
    """The course's outlines and each learner's tree, in (tenant, learner) order."""
    chosen = LearnerChoice(scope.learner, scope.cohort, after[:2] if after else None, limit)
    outlines, learners = await courses.course_progress(session, scope.tenant_ids, course_id, chosen)
    if not outlines:
        raise NotFound("no cmi5 course with this id in the tenants in scope", "course")
    trees: list[tuple[LearnerKey, list[dict[str, Any]]]] = []
    for tenant_id, outline in outlines.items():
        registered = [learner for tenant, learner in learners if tenant == tenant_id]
        keys = [(learner, node.activity_id) for learner in registered for node in outline]
        models: dict[str, dict[str, ActivityState]] = defaultdict(dict)
        for (learner, activity), state in (await store.states_of(session, tenant_id, keys)).items():
            models[learner][activity] = state
        trees.extend(
            (
                (tenant_id, learner),
                course_tree(outline, learners[tenant_id, learner], models[learner]),
            )
            for learner in registered
        )
    trees.sort(key=lambda tree: tree[0])
    return outlines, trees


async def course_progress(
    session: AsyncSession,
    scope: ModelFilter,
    names: Mapping[int, str],
    courses: Cmi5,
    course_id: str,
    after: Cursor | None,
    limit: int,
) -> Table:
    """Each registered learner's tree of the course; a page holds `limit` learners."""
    _, trees = await _course_learners(session, scope, courses, course_id, after, limit + 1)
    next_after = None
    if len(trees) > limit:
        trees = trees[:limit]
        (tenant_id, learner), _ = trees[-1]
        next_after = (tenant_id, learner, course_id)
    rows = [
        {"tenant": names[tenant_id], "learner": learner, "course": course_id, **row}
        for (tenant_id, learner), tree in trees
        for row in tree
    ]
    return Table(COURSE_COLUMNS, rows, next_after)


COURSE_SUMMARY_COLUMNS = (
    "node", "kind", "title", "parent", "depth", "learners", "started", "satisfied",
    "satisfied_rate", "mean_completion", "mean_seconds", "estimate",
)  # fmt: skip


@dataclass
class _NodeSums:
    learners: int = 0
    started: int = 0
    satisfied: int = 0
    completion: float = 0.0  # the sum of each learner's
    seconds: float = 0.0


async def course_summary(
    session: AsyncSession,
    scope: ModelFilter,
    courses: Cmi5,
    course_id: str,
    min_observations: int,
) -> Table:
    """Per node of the course over the learners registered in scope: how many started it
    (any statement about it or its AUs) and satisfied it, their mean completion (as
    `course_tree` has it) and time. Summed per Activity from three columns of each model
    rather than a tree per learner, as a cohort's summary has to be quick."""
    outlines, learners = await courses.course_progress(
        session, scope.tenant_ids, course_id, LearnerChoice(scope.learner, scope.cohort)
    )
    if not outlines:
        raise NotFound("no cmi5 course with this id in the tenants in scope", "course")
    sums: dict[str, _NodeSums] = {}
    nodes: dict[str, OutlineNode] = {}
    for tenant_id, outline in outlines.items():
        registered = {
            learner: met for (tenant, learner), met in learners.items() if tenant == tenant_id
        }
        effort = await store.efforts(session, tenant_id, [n.activity_id for n in outline], scope)
        au_activity = {node.id: node.activity_id for node in outline if node.kind == "au"}
        au_completion = {  # summed over the learners
            au: sum(
                _au_completion(met.get(au, _NOT_MET), effort[activity].get(learner, _NONE)[2])
                for learner, met in registered.items()
            )
            for au, activity in au_activity.items()
        }
        for node in outline:
            nodes.setdefault(node.id, node)
            total = sums.setdefault(node.id, _NodeSums())
            sources = [node.activity_id]
            if node.kind != "au":
                sources += [au_activity[au] for au in node.aus]
            started: set[str] = set()
            for activity in sources:
                for learner, (_, seconds, _) in effort[activity].items():
                    if learner in registered:
                        started.add(learner)
                        total.seconds += seconds
            total.learners += len(registered)
            total.started += len(started)
            total.satisfied += sum(
                met.get(node.id, _NOT_MET).satisfied for met in registered.values()
            )
            total.completion += sum(au_completion[au] for au in node.aus) / len(node.aus)
    rows = [
        {
            **_node_columns(node),
            "learners": total.learners,
            "started": total.started,
            "satisfied": total.satisfied,
            "satisfied_rate": _ratio(total.satisfied, total.learners),
            "mean_completion": total.completion / total.learners if total.learners else None,
            "mean_seconds": total.seconds / total.learners if total.learners else None,
            "estimate": _estimate(total.learners, min_observations),
        }
        for node, total in ((nodes[node_id], total) for node_id, total in sums.items())
    ]
    return Table(COURSE_SUMMARY_COLUMNS, rows)
