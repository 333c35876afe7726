"""`make bench-views`: the learner-model views at scale, on PostgreSQL, through HTTP.

The benchmark corpus (bench.corpus with 10,000 learners; 1,000,000 statements over the three
tenants, 60 % in the largest subsidiary) goes in through the bulk path; `lrs analytics
rebuild` makes every model (timed); then, each from one client (latency alone):

- one learner's views (progress, mastery, memory, the due list) for seeded learners, by the
  subsidiary's lms credential;
- the cohort views over that subsidiary, every one of its learners (progress and mastery
  summaries, the cohort retention curve, the evaluation, a first page of progress), by the
  group's analyst.

    python -m bench.analytics_views [--statements 1000000] [--learners 200] [--repeats 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from analytics.tables import analytics_evidence, analytics_states
from bench import load
from bench.corpus import Corpus, Shape
from bench.run import (
    RESULTS,
    TENANTS,
    VERSION,
    autovacuum_stand_in,
    drop_database,
    fill,
    fresh_database,
    machine,
    make_writers,
)
from bench.server import Server

LEARNER_VIEWS = (
    "/analytics/progress",
    "/analytics/mastery",
    "/analytics/memory",
    "/analytics/memory/due",
)
COHORT_VIEWS = (
    ("progress summary", "/analytics/progress/summary"),
    ("mastery summary", "/analytics/mastery/summary"),
    ("retention curve, 30 days", "/analytics/memory/curve"),
    ("evaluation", "/analytics/evaluation"),
    ("progress, first page of 100", "/analytics/progress"),
)
COHORT = TENANTS[1]  # the largest subsidiary


def rebuild(url: str) -> dict[str, Any]:
    """`lrs analytics rebuild`, the command itself, timed."""
    command = [str(Path(sys.executable).parent / "lrs"), "analytics", "rebuild"]
    environment = {**os.environ, "LRS_DATABASE_URL": url, "LRS_ADMIN_KEY": ""}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own command
        command, env=environment, capture_output=True, text=True, check=True
    )
    return {"seconds": time.perf_counter() - started, "tenants": json.loads(done.stdout)}


async def timed(server: Server, authorization: str, requests: list[load.Request]) -> dict[str, Any]:
    headers = {**VERSION, "Authorization": authorization}
    timing = await load.run(server.url, headers, requests.__getitem__, len(requests), 1)
    return asdict(timing)


async def learner_views(
    server: Server, corpus: Corpus, authorization: str, learners: int
) -> dict[str, Any]:
    rng = random.Random(5)
    agents = [json.dumps(corpus.agent(rng.randrange(corpus.shape.agents))) for _ in range(learners)]
    return {
        path: await timed(
            server,
            authorization,
            [load.Request("GET", path, params={"agent": agent}) for agent in agents],
        )
        for path in LEARNER_VIEWS
    }


async def cohort_views(server: Server, authorization: str, repeats: int) -> dict[str, Any]:
    return {
        name: await timed(
            server,
            authorization,
            [load.Request("GET", path, params={"tenant": COHORT})] * repeats,
        )
        for name, path in COHORT_VIEWS
    }


async def sizes(engine: Any, tenant_id: int) -> dict[str, int]:
    states = analytics_states.c
    async with engine.connect() as connection:
        learners = await connection.scalar(
            select(func.count(states.learner.distinct())).where(states.tenant_id == tenant_id)
        )
        models = await connection.scalar(
            select(func.count()).select_from(analytics_states).where(states.tenant_id == tenant_id)
        )
        evidence = await connection.scalar(select(func.count()).select_from(analytics_evidence))
    return {"cohort_learners": learners, "cohort_models": models, "evidence": evidence}


async def run(options: argparse.Namespace, stamp: str) -> dict[str, Any]:
    url, engine = await fresh_database("postgresql", stamp)
    log = RESULTS / f"{stamp}-views-postgresql.log"
    server = Server(url, options.port, 2, log)
    corpus = Corpus(Shape(agents=options.agents))
    try:
        writers, analyst = await make_writers(server, engine)
        print(f"filling to {options.statements} statements", flush=True)
        result: dict[str, Any] = {"fill": await fill(engine, corpus, writers, options.statements)}
        await autovacuum_stand_in(engine)
        print("lrs analytics rebuild", flush=True)
        result["rebuild"] = rebuild(url)
        await autovacuum_stand_in(engine)
        result["sizes"] = await sizes(engine, writers[1].principal.tenant_id)
        print("one learner's views", flush=True)
        result["learner"] = await learner_views(
            server, corpus, writers[1].authorization, options.learners
        )
        print("cohort views", flush=True)
        result["cohort"] = await cohort_views(server, analyst, options.repeats)
    finally:
        server.stop()
        await engine.dispose()
        await drop_database(url)
    return result


def table(result: dict[str, Any]) -> str:
    def pp(t: dict[str, Any]) -> str:
        return f"{t['p50_ms']:.0f} / {t['p95_ms']:.0f} / {t['p99_ms']:.0f}"

    sizes_ = result["sizes"]
    lines = [
        f"rebuild of {result['fill']['added']:,} statements: {result['rebuild']['seconds']:.0f} s; "
        f"cohort: {sizes_['cohort_learners']:,} learners, {sizes_['cohort_models']:,} models",
        "| view | p50 / p95 / p99 ms |",
        "| --- | --- |",
    ]
    lines += [f"| one learner: {path} | {pp(t)} |" for path, t in result["learner"].items()]
    lines += [f"| cohort: {name} | {pp(t)} |" for name, t in result["cohort"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--port", type=int, default=8767)
    options = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    result = asyncio.run(run(options, stamp))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{stamp}-views-postgresql.json"
    path.write_text(
        json.dumps({"options": vars(options), "machine": machine(), "result": result}, indent=2)
    )
    print(table(result))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
