"""`make bench-views`: the learner-model views at scale, on PostgreSQL, through HTTP.

The benchmark corpus (bench.corpus with 10,000 learners; 1,000,000 statements over the three
tenants, 60 % in the largest subsidiary) goes in through the bulk path; `lrs analytics
rebuild` makes every model (timed); then, each from one client (latency alone):

- one learner's views (progress, mastery, memory, the due list) for seeded learners, by the
  subsidiary's lms credential;
- the cohort views over that subsidiary, every one of its learners (progress and mastery
  summaries, the cohort retention curve, the evaluation, a first page of progress), by the
  group's analyst;
- the cmi5 course views (`course_views`) over every learner, each registered in the sample
  course by the subsidiary's LMS.

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

import httpx
from sqlalchemy import func, select

from analytics.evidence import COMPLETED, PROGRESSED
from analytics.tables import analytics_evidence, analytics_states
from bench import load
from bench.corpus import Corpus, Shape
from bench.run import (
    JSON,
    RESULTS,
    TENANTS,
    VERSION,
    autovacuum_stand_in,
    drop_database,
    fill,
    fresh_database,
    machine,
    make_writers,
    queue_drained,
)
from bench.server import Server
from cmi5.package import sample_package
from cmi5.rules import PROGRESS

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
COURSE_VIEWS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("course summary", "/analytics/progress/course/summary", {}),
    ("course, first page of 100", "/analytics/progress/course", {"limit": "100"}),
)
COHORT = TENANTS[1]  # the largest subsidiary
HOME_PAGE = "https://hr.example.org"  # of the cmi5 learners' accounts


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


def _aus(node: dict[str, Any]) -> list[dict[str, Any]]:
    if node["type"] == "au":
        return [node]
    return [au for child in node["children"] for au in _aus(child)]


async def course_views(
    server: Server,
    engine: Any,
    corpus: Corpus,
    lms: str,
    analyst: str,
    repeats: int,
) -> dict[str, Any]:
    """The cmi5 course views over as many learners as the corpus has, each registered in
    the sample course by the subsidiary's LMS: a statement about each of its AUs from each
    learner (progress through it, a third completed), a fifth with an AU waived; then the
    course summary and a first page of 100 learners' trees, by the group's analyst."""
    headers = {**VERSION, "Authorization": lms}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
        imported = await client.post(
            "/cmi5/courses", content=sample_package(), headers={"Content-Type": "application/zip"}
        )
        imported.raise_for_status()
    course = imported.json()
    aus = [au for child in course["children"] for au in _aus(child)]
    learners = [  # cmi5 9.2: a learner is identified by an account
        {"objectType": "Agent", "account": {"homePage": HOME_PAGE, "name": f"learner-{number}"}}
        for number in range(corpus.shape.agents)
    ]

    def register(index: int) -> load.Request:
        body = {"course": course["id"], "actor": learners[index]}
        return load.Request(
            "POST", "/cmi5/registrations", headers=JSON, body=json.dumps(body).encode()
        )

    started = time.perf_counter()
    registered = await load.run(server.url, headers, register, len(learners), 16, (201,))
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:
        listed = await client.get("/cmi5/registrations", params={"course": course["id"]})
        listed.raise_for_status()
    ids = sorted(registration["id"] for registration in listed.json())
    rng = random.Random(9)
    statements = [
        {
            "actor": learner,
            "verb": {"id": COMPLETED if rng.random() < 1 / 3 else PROGRESSED},
            "object": {"id": au["lmsId"]},
            "result": {"extensions": {PROGRESS: rng.randrange(101)}, "duration": "PT5M"},
        }
        for learner in learners
        for au in aus
    ]
    batches = [json.dumps(statements[i : i + 100]).encode() for i in range(0, len(statements), 100)]

    def post(index: int) -> load.Request:
        return load.Request("POST", "/xapi/statements", headers=JSON, body=batches[index])

    await load.run(server.url, headers, post, len(batches), 16)
    waived = ids[: len(ids) // 5]

    def waive(index: int) -> load.Request:
        body = {"au": aus[0]["id"], "reason": "Tested Out"}
        path = f"/cmi5/registrations/{waived[index]}/waive"
        return load.Request("POST", path, headers=JSON, body=json.dumps(body).encode())

    await load.run(server.url, headers, waive, len(waived), 16)
    await queue_drained(engine)
    setup = time.perf_counter() - started
    params = {"course": course["id"], "tenant": COHORT}
    result: dict[str, Any] = {
        "learners": len(learners),
        "registrations_per_second": registered.per_second,
        "setup_seconds": setup,
    }
    for name, path, more in COURSE_VIEWS:
        requests = [load.Request("GET", path, {**params, **more})] * repeats
        result[name] = await timed(server, analyst, requests)
    return result


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
        print("cmi5 course views", flush=True)
        result["course"] = await course_views(
            server, engine, corpus, writers[1].authorization, analyst, options.repeats
        )
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
    course = result["course"]
    lines += [
        f"| cmi5 {name}, {course['learners']:,} registered | {pp(course[name])} |"
        for name, _, _ in COURSE_VIEWS
    ]
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
