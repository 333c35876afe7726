"""`make bench-analytics`: how well the learner models predict, through the public API of a
running server, time-ordered: reviews and answers are posted as statements in time order;
for each one in the last 20 % the prediction is read first (the memory view with `at=` the
review's time, the mastery view's `next_correct`), then the statement is posted. Scores are
log loss, AUC and RMSE over 20 probability bins, next to a constant baseline (the mean
outcome of the first 80 %).

- Forgetting curve (FSRS): a real review log, ../shared/data/review-log (MIT; see its
  README). Rating 1 posts a wrong answer, 2 a right one with score 0.5 (Hard), 3-4 right.
  Scored with FSRS's default parameters, and after `lrs analytics fit` on the first 80 %
  (which keeps its own fit only if it beats the defaults on the latest fifth of those).
- Mastery (BKT): no openly licensed tutoring log is on this machine, so answers are simulated
  from known BKT parameters (seeded), and scored with the default parameters and with those
  `lrs analytics fit` learns from the first 80 %.

    python -m bench.analytics [--backend sqlite] [--reviews N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import random
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from analytics import bkt
from bench.run import RESULTS, VERSION, basic, drop_database, fresh_database, machine
from bench.server import ADMIN_KEY, ADMIN_SECRET, Server

REVIEW_LOG = Path(__file__).resolve().parents[2] / "shared/data/review-log/review_logs_josh.csv"
ADL = "http://adlnet.gov/expapi/verbs/"
CARDS = "https://cards.example.com/"
TRAIN_SHARE = 0.8
_EPS = 1e-6


@dataclass(frozen=True)
class Event:
    learner: str
    item: str
    at: datetime
    correct: bool
    scaled: float | None = None
    seconds: float | None = None


def log_loss(predictions: Sequence[float], outcomes: Sequence[bool]) -> float:
    total = 0.0
    for p, y in zip(predictions, outcomes, strict=True):
        p = min(1 - _EPS, max(_EPS, p))
        total -= math.log(p if y else 1 - p)
    return total / len(outcomes)


def auc(predictions: Sequence[float], outcomes: Sequence[bool]) -> float:
    """The probability that a random right answer is ranked above a random wrong one (ties
    count half): the Mann-Whitney statistic."""
    ranked = sorted(zip(predictions, outcomes, strict=True))
    rank_sum, positives, index = 0.0, 0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        mean_rank = (index + 1 + end) / 2
        for _, outcome in ranked[index:end]:
            if outcome:
                rank_sum += mean_rank
                positives += 1
        index = end
    negatives = len(ranked) - positives
    if not positives or not negatives:
        return float("nan")
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def rmse_bins(predictions: Sequence[float], outcomes: Sequence[bool], bins: int = 20) -> float:
    """Root mean square gap between mean prediction and observed rate, over equal-width
    probability bins, weighted by their counts."""
    sums: dict[int, list[float]] = {}
    for p, y in zip(predictions, outcomes, strict=True):
        entry = sums.setdefault(min(bins - 1, int(p * bins)), [0.0, 0.0, 0.0])
        entry[0] += p
        entry[1] += y
        entry[2] += 1
    squared = sum((s[0] / s[2] - s[1] / s[2]) ** 2 * s[2] for s in sums.values())
    return math.sqrt(squared / len(predictions))


def scores(predictions: Sequence[float], outcomes: Sequence[bool]) -> dict[str, float]:
    return {
        "log_loss": log_loss(predictions, outcomes),
        "auc": auc(predictions, outcomes),
        "rmse_bins": rmse_bins(predictions, outcomes),
        "count": len(outcomes),
    }


def review_events(path: Path, limit: int | None) -> list[Event]:
    rating_to = {"1": (False, None), "2": (True, 0.5), "3": (True, None), "4": (True, None)}
    with path.open() as file:
        rows = list(csv.DictReader(file))
    events = []
    for row in rows[:limit]:
        correct, scaled = rating_to[row["review_rating"]]
        events.append(
            Event(
                learner="josh",
                item=CARDS + row["card_id"],
                at=datetime.fromisoformat(row["review_time"]).astimezone(UTC),
                correct=correct,
                scaled=scaled,
                seconds=int(row["review_duration"]) / 1000,
            )
        )
    return sorted(events, key=lambda event: event.at)


TRUE_BKT = {
    f"https://skills.example.com/s{number}": bkt.Parameters(init, learn, slip, guess)
    for number, (init, learn, slip, guess) in enumerate(
        [(0.2, 0.15, 0.08, 0.25), (0.4, 0.08, 0.12, 0.18), (0.1, 0.25, 0.05, 0.3)], start=1
    )
}


def simulated_answers(learners: int, seed: int = 7) -> list[Event]:
    """Each learner answers each skill 4-14 times, a few minutes apart, by the BKT model
    with that skill's true parameters."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    events = []
    for number in range(learners):
        moment = start + timedelta(hours=rng.randint(0, 24 * 60))
        for skill, truth in TRUE_BKT.items():
            knows = rng.random() < truth.p_init
            for _ in range(rng.randint(4, 14)):
                right = rng.random() < (1 - truth.p_slip if knows else truth.p_guess)
                events.append(Event(f"learner{number}", skill, moment, right))
                knows = knows or rng.random() < truth.p_learn
                moment += timedelta(minutes=rng.randint(1, 30))
    return sorted(events, key=lambda event: event.at)


def statement(event: Event) -> dict[str, Any]:
    result: dict[str, Any] = {"success": event.correct}
    if event.scaled is not None:
        result["score"] = {"scaled": event.scaled}
    if event.seconds is not None:
        result["duration"] = f"PT{event.seconds:.3f}S"
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": f"mailto:{event.learner}@corp.example.com"},
        "verb": {"id": ADL + "answered"},
        "object": {"objectType": "Activity", "id": event.item},
        "result": result,
        "timestamp": event.at.isoformat(),
    }


async def post_all(client: httpx.AsyncClient, events: Sequence[Event]) -> None:
    for start in range(0, len(events), 200):
        batch = [statement(event) for event in events[start : start + 200]]
        (await client.post("/xapi/statements", json=batch)).raise_for_status()


async def predicted(client: httpx.AsyncClient, event: Event, kind: str) -> float | None:
    params = {
        "agent": json.dumps({"mbox": f"mailto:{event.learner}@corp.example.com"}),
        "activity": event.item,
    }
    if kind == "memory":
        params["at"] = event.at.isoformat()
    response = await client.get(f"/analytics/{kind}", params=params)
    response.raise_for_status()
    rows = response.json()["rows"]
    if not rows:
        return None
    value = rows[0]["retrievability" if kind == "memory" else "next_correct"]
    return float(value)


def long_term(events: Sequence[Event]) -> list[bool]:
    """Per event: a day or more after the same learner's previous event on the item. Reviews
    minutes apart (learning steps after a lapse) are not what a forgetting curve schedules."""
    previous: dict[tuple[str, str], datetime] = {}
    flags = []
    for event in events:
        before = previous.get((event.learner, event.item))
        flags.append(before is not None and event.at - before >= timedelta(days=1))
        previous[event.learner, event.item] = event.at
    return flags


async def evaluate(
    client: httpx.AsyncClient, events: Sequence[Event], kind: str, fit: bool, url: str
) -> dict[str, Any]:
    """Posts the first 80 % (then fits, if asked), then predicts-and-posts the rest. Memory
    is scored on long-term reviews (all reviews are reported too), mastery on every answer
    that has a model to predict from."""
    split = int(len(events) * TRAIN_SHARE)
    await post_all(client, events[:split])
    fitted = None  # what `lrs analytics fit` learnt, and whether it kept it
    if fit:
        command = [
            str(Path(sys.executable).parent / "lrs"),
            "analytics",
            "fit",
            "--database-url",
            url,
        ]
        fitting = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
        printed, _ = await fitting.communicate()
        fitted = json.loads(printed)["eval"]
    flags = long_term(events) if kind == "memory" else [True] * len(events)
    trained = [event.correct for event, flag in zip(events[:split], flags, strict=False) if flag]
    baseline = sum(trained) / len(trained)
    everything: list[tuple[float, bool, bool]] = []
    for event, flag in zip(events[split:], flags[split:], strict=True):
        value = await predicted(client, event, kind)
        if value is not None:  # None: the item's first event, nothing to predict from yet
            everything.append((value, event.correct, flag))
        await post_all(client, [event])
    scored = [(p, y) for p, y, flag in everything if flag]
    predictions, outcomes = [p for p, _ in scored], [y for _, y in scored]
    result = {
        "fitted": fitted,
        "train": split,
        "scored": len(scored),
        "baseline_recall": baseline,
        "model": scores(predictions, outcomes),
        "baseline": scores([baseline] * len(outcomes), outcomes),
    }
    if kind == "memory":
        every_p, every_y = [p for p, _, _ in everything], [y for _, y, _ in everything]
        result["all_reviews_model"] = scores(every_p, every_y)
        result["all_reviews_baseline"] = scores([baseline] * len(every_y), every_y)
    return result


async def run(backend: str, stamp: str, reviews: int | None, learners: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, events, kind, fit in (
        ("memory (FSRS, default parameters), real review log", None, "memory", False),
        ("memory (FSRS, `lrs analytics fit` on the first 80 %), real review log", None, "memory",
         True),
        ("mastery (BKT, default parameters), simulated", simulated_answers(learners), "mastery",
         False),
        ("mastery (BKT, fitted on the first 80 %), simulated", simulated_answers(learners),
         "mastery", True),
    ):  # fmt: skip
        if events is None:
            if not REVIEW_LOG.exists():
                print(f"skipped: {REVIEW_LOG} is missing", flush=True)
                continue
            events = review_events(REVIEW_LOG, reviews)
        url, engine = await fresh_database(backend, f"{stamp}-{len(results)}")
        await engine.dispose()
        server = Server(url, 8766, 1, RESULTS / f"{stamp}-analytics-{backend}.log")
        try:
            admin = {"Authorization": basic(ADMIN_KEY, ADMIN_SECRET)}
            async with httpx.AsyncClient(base_url=server.url, headers=admin) as client:
                (await client.post("/admin/tenants", json={"name": "eval"})).raise_for_status()
                made = (
                    await client.post("/admin/credentials", json={"tenant": "eval", "role": "lms"})
                ).json()
            headers = {**VERSION, "Authorization": basic(made["key"], made["secret"])}
            async with httpx.AsyncClient(
                base_url=server.url, headers=headers, timeout=60
            ) as client:
                print(f"[{backend}] {name}: {len(events)} events", flush=True)
                results[name] = await evaluate(client, events, kind, fit, url)
        finally:
            server.stop()
            await drop_database(url)
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        "| model | scored | log loss (baseline) | AUC (baseline) | RMSE bins (baseline) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        m, b = r["model"], r["baseline"]
        lines.append(
            f"| {name} | {r['scored']:,} | {m['log_loss']:.4f} ({b['log_loss']:.4f}) | "
            f"{m['auc']:.4f} ({b['auc']:.4f}) | {m['rmse_bins']:.4f} ({b['rmse_bins']:.4f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--reviews", type=int, help="only the first N reviews of the log")
    parser.add_argument("--learners", type=int, default=300, help="simulated BKT learners")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    results = asyncio.run(run(args.backend, stamp, args.reviews, args.learners))
    record = {"backend": args.backend, "machine": machine(), "results": results}
    (RESULTS / f"{stamp}-analytics-{args.backend}.json").write_text(json.dumps(record, indent=2))
    print(table(results), flush=True)


if __name__ == "__main__":
    main()
