"""`make bench`: ingest, the database's limit, queries at scale, documents and resource use,
measured in one run on each back end. Prints a table; writes bench/results/<time>-<db>.json.

    python -m bench.run [--backends postgresql,sqlite] [--statements 1000000]
                        [--ingest 50000] [--clients 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import platform
import random
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import uvloop
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from analytics.tables import analytics_queue
from auth import store as auth_store
from auth.models import Principal, Scope
from auth.service import authority_for
from bench import bulk, load
from bench.corpus import VERBS, Corpus
from bench.server import ADMIN_KEY, ADMIN_SECRET, Server
from lrs.db import create_engine, create_sessionmaker, migrate
from lrs.settings import Settings
from lrs.versions import XAPIVersion
from statements.service import prepare_for_storage, storage_row
from statements.tables import statements
from statements.validation import validate_statements

RESULTS = Path(__file__).parent / "results"
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
VERSION = {"X-Experience-API-Version": "2.0.0"}
JSON = {"Content-Type": "application/json"}
QUERY_CLIENTS = (1, 4)
TENANTS = ("bench-group", "bench-sub-1", "bench-sub-2")
# Statement index ranges, so every phase sends statements no other phase sent.
SINGLE_POST, SINGLE_PUT, LIMIT, CORPUS = 10_000_000, 20_000_000, 30_000_000, 40_000_000
LIMIT_RUNS = 3


@dataclass(frozen=True)
class Options:
    backends: list[str]
    statements: int
    ingest: int
    clients: int
    workers: int
    singles: int
    queries: int
    port: int
    ingest_only: bool = False  # the two ingests and the models' cost, nothing after


@dataclass
class Writer:
    """A tenant's credential: its Authorization header and how the service stamps rows."""

    authorization: str
    principal: Principal


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def tenant_of(index: int) -> int:
    """10 % of statements in the group itself, 60 % in sub-1, 30 % in sub-2."""
    bucket = (index * 2_654_435_761) % 10
    return 0 if bucket == 0 else 1 if bucket <= 6 else 2


async def fresh_database(backend: str, stamp: str) -> tuple[str, AsyncEngine]:
    """A new database at the newest schema: its URL and an engine on it."""
    if backend == "sqlite":
        path = Path("/tmp") / f"lrs-bench-{stamp}.db"  # noqa: S108 - scratch benchmark file
        url = f"sqlite+aiosqlite:///{path}"
    else:
        admin = await asyncpg.connect(POSTGRES.replace("+asyncpg", "") + "/postgres")
        await admin.execute(f'CREATE DATABASE "lrs_bench_{stamp}"')
        await admin.close()
        url = f"{POSTGRES}/lrs_bench_{stamp}"
    engine = create_engine(url)
    await migrate(engine)
    return url, engine


async def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.split("///", 1)[1] + suffix).unlink(missing_ok=True)  # noqa: ASYNC240
        return
    admin = await asyncpg.connect(POSTGRES.replace("+asyncpg", "") + "/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await admin.close()


async def autovacuum_stand_in(engine: AsyncEngine) -> None:
    """ANALYZE on PostgreSQL, which autovacuum would have run by now in a default installation:
    this machine's PostgreSQL has autovacuum turned off (its CI configuration), and without
    statistics the planner's estimates for tables that grew from empty are guesses."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))


@contextlib.asynccontextmanager
async def autovacuum_stand_in_while(engine: AsyncEngine) -> AsyncIterator[None]:
    """ANALYZE every few seconds while the block runs: the tables an ingest fills grow from
    empty, and autovacuum would have analysed them on the way (without it the planner keeps
    taking them for empty and scans them whole)."""

    async def analyse() -> None:
        while True:
            await asyncio.sleep(5)
            await autovacuum_stand_in(engine)

    task = asyncio.create_task(analyse())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def make_writers(server: Server, engine: AsyncEngine) -> tuple[list[Writer], str]:
    """The tenant tree (group -> sub-1, sub-2), an lms credential in each tenant, and an
    analyst at the group who reads all three; returns the writers and the analyst's header."""
    admin = {"Authorization": basic(ADMIN_KEY, ADMIN_SECRET)}
    writers = []
    async with httpx.AsyncClient(base_url=server.url, headers=admin) as client:
        response = await client.post("/admin/tenants", json={"name": TENANTS[0]})
        response.raise_for_status()
        for name in TENANTS[1:]:
            response = await client.post(
                "/admin/tenants", json={"name": name, "parent": TENANTS[0]}
            )
            response.raise_for_status()
        for name in TENANTS:
            made = (
                await client.post("/admin/credentials", json={"tenant": name, "role": "lms"})
            ).json()
            async with create_sessionmaker(engine)() as session:
                row = await auth_store.credential_by_key(session, made["key"])
            assert row is not None
            principal = Principal(
                tenant_id=row.tenant_id,
                credential_id=row.id,
                key=row.key,
                scopes=frozenset(Scope(s) for s in row.scopes),
                authority=authority_for(row.key, row.name, Settings().public_url),
            )
            writers.append(Writer(basic(made["key"], made["secret"]), principal))
        analyst = (
            await client.post("/admin/credentials", json={"tenant": TENANTS[0], "role": "analyst"})
        ).json()
    return writers, basic(analyst["key"], analyst["secret"])


def rows_for(
    corpus: Corpus, writers: list[Writer], indexes: range, stored: list[datetime]
) -> bulk.Batch:
    """Statements as the service would store them, validation included (outside any timing)."""
    statements = validate_statements([corpus.statement(i) for i in indexes], XAPIVersion.V2)
    batch = []
    for index, statement, stored_at in zip(indexes, statements, stored, strict=True):
        writer = writers[tenant_of(index)]
        prepared = prepare_for_storage(statement, writer.principal, XAPIVersion.V2, stored_at)
        batch.append(
            (
                writer.principal.tenant_id,
                writer.principal.credential_id,
                storage_row(prepared, stored_at),
            )
        )
    return batch


async def ingest(
    server: Server, corpus: Corpus, writers: list[Writer], options: Options
) -> dict[str, Any]:
    """Batches of 100 statements of one tenant each, from `clients` concurrent clients."""
    by_tenant: dict[int, list[int]] = {0: [], 1: [], 2: []}
    for index in range(options.ingest):
        by_tenant[tenant_of(index)].append(index)
    bodies: list[tuple[str, bytes]] = []
    for tenant, indexes in by_tenant.items():
        for start in range(0, len(indexes), 100):
            chunk = [corpus.statement(i) for i in indexes[start : start + 100]]
            bodies.append((writers[tenant].authorization, json.dumps(chunk).encode()))
    random.Random(1).shuffle(bodies)
    sent = sum(body.count(b'"actor"') for _, body in bodies)

    def post(i: int) -> load.Request:
        authorization, body = bodies[i]
        headers = {**JSON, "Authorization": authorization}
        return load.Request("POST", "/xapi/statements", headers=headers, body=body)

    cpu = server.cpu_seconds()
    batches = await load.run(server.url, VERSION, post, len(bodies), options.clients)
    cpu = server.cpu_seconds() - cpu
    return {
        "statements": sent,
        "statements_per_second": sent / batches.seconds,
        "batch": asdict(batches),
        "cpu_seconds_per_1000_statements": cpu / sent * 1000,
    }


async def queue_drained(engine: AsyncEngine) -> float:
    """Seconds until every queued statement is folded into the learner models."""
    start = time.monotonic()
    while True:
        async with engine.connect() as connection:
            if not await connection.scalar(select(func.count()).select_from(analytics_queue)):
                return time.monotonic() - start
        await asyncio.sleep(0.05)


async def ingest_with_models(
    server: Server, engine: AsyncEngine, writers: list[Writer], options: Options
) -> dict[str, Any]:
    """Ingest, then the wait until the learner models hold every statement (their queue is
    drained while the batches come and after)."""
    await checkpoint(engine)
    cpu = server.cpu_seconds()
    async with autovacuum_stand_in_while(engine):
        result = await ingest(server, Corpus(), writers, options)
        result["models_current_after_seconds"] = await queue_drained(engine)
    seconds = result["batch"]["seconds"] + result["models_current_after_seconds"]
    result["statements_per_second_with_models_current"] = result["statements"] / seconds
    cpu = server.cpu_seconds() - cpu
    result["cpu_seconds_per_1000_statements_with_models"] = cpu / result["statements"] * 1000
    return result


async def ingest_without_models(backend: str, options: Options, stamp: str) -> dict[str, Any]:
    """The same ingest on a server of its own with the learner models off (a fresh database
    too, so neither run has the other's rows to index)."""
    url, engine = await fresh_database(backend, f"{stamp}-plain")
    log = RESULTS / f"{stamp}-{backend}-plain.log"
    server = Server(url, options.port, options.workers, log, {"LRS_ANALYTICS_ENABLED": "false"})
    try:
        writers, _ = await make_writers(server, engine)
        await checkpoint(engine)
        async with autovacuum_stand_in_while(engine):
            return await ingest(server, Corpus(), writers, options)
    finally:
        server.stop()
        await engine.dispose()
        await drop_database(url)


async def singles(
    server: Server, corpus: Corpus, writers: list[Writer], options: Options
) -> dict[str, Any]:
    writer = writers[1]
    headers = {**VERSION, **JSON, "Authorization": writer.authorization}

    def post(i: int) -> load.Request:
        body = json.dumps(corpus.statement(SINGLE_POST + i)).encode()
        return load.Request("POST", "/xapi/statements", body=body)

    def put(i: int) -> load.Request:
        statement = corpus.statement(SINGLE_PUT + i)
        params = {"statementId": statement["id"]}
        return load.Request("PUT", "/xapi/statements", params, body=json.dumps(statement).encode())

    return {
        "post": asdict(await load.run(server.url, headers, post, options.singles, options.clients)),
        "put": asdict(await load.run(server.url, headers, put, options.singles, options.clients)),
    }


async def checkpoint(engine: AsyncEngine) -> None:
    """Dirty pages and the write-ahead log flushed before a timed write, so that no phase
    pays for a checkpoint the one before it made due."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("CHECKPOINT"))
        else:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


async def database_limit(
    engine: AsyncEngine, corpus: Corpus, writers: list[Writer], count: int
) -> dict[str, Any]:
    """The same rows the ingest phase made the service write, straight into the database:
    LIMIT_RUNS times (other statements each time), each after a checkpoint; the median
    rate. One run alone measured 8,019 to 23,778 statements/s on PostgreSQL in one day."""
    rates = []
    rows = 0
    for run in range(LIMIT_RUNS):
        first, now = LIMIT + run * count, datetime.now(UTC)
        chunks = [
            rows_for(
                corpus,
                writers,
                range(start, min(start + 10_000, first + count)),
                [now] * min(10_000, first + count - start),
            )
            for start in range(first, first + count, 10_000)
        ]
        await checkpoint(engine)
        seq = await bulk.next_seq(engine)
        started = time.perf_counter()
        for chunk in chunks:
            rows += await bulk.write(engine, chunk, seq)
            seq += len(chunk)
        rates.append(count / (time.perf_counter() - started))
    return {
        "statements": count,
        "rows": rows // LIMIT_RUNS,
        "statements_per_second": statistics.median(rates),
        "runs_statements_per_second": rates,
    }


async def fill(
    engine: AsyncEngine, corpus: Corpus, writers: list[Writer], total: int
) -> dict[str, Any]:
    """Tops the store up to `total` statements through the bulk path, stored over the last
    90 days (so since/until select real windows)."""
    async with engine.connect() as connection:
        have = int(await connection.scalar(select(func.count()).select_from(statements)) or 0)
    missing = max(0, total - have)
    now = datetime.now(UTC)
    step = timedelta(days=90) / max(missing, 1)
    seq = await bulk.next_seq(engine)
    started = time.perf_counter()
    for start in range(0, missing, 20_000):
        indexes = range(CORPUS + start, CORPUS + min(start + 20_000, missing))
        stored = [now - timedelta(days=90) + step * (i - CORPUS) for i in indexes]
        chunk = rows_for(corpus, writers, indexes, stored)
        await bulk.write(engine, chunk, seq)
        seq += len(chunk)
    await bulk.finish(engine)
    return {"added": missing, "seconds": time.perf_counter() - started}


def query_parameters(corpus: Corpus, rng: random.Random) -> dict[str, dict[str, str]]:
    shape = corpus.shape
    day = datetime.now(UTC) - timedelta(days=rng.uniform(2, 88))
    return {
        "agent": {"agent": json.dumps({"mbox": corpus.agent(rng.randrange(shape.agents))["mbox"]})},
        "verb": {"verb": corpus.verb_id(rng.choice(VERBS))},
        "activity": {"activity": corpus.activity_id(rng.randrange(shape.activities))},
        "registration": {"registration": corpus.registration(rng.randrange(shape.registrations))},
        "related_activities": {
            "activity": corpus.course_id(rng.randrange(shape.courses)),
            "related_activities": "true",
        },
        "related_agents": {
            "agent": json.dumps(
                {"mbox": corpus.agent(shape.agents + rng.randrange(shape.instructors))["mbox"]}
            ),
            "related_agents": "true",
        },
        "since_until": {"since": day.isoformat(), "until": (day + timedelta(days=1)).isoformat()},
    }


async def queries(
    server: Server, corpus: Corpus, authorization: str, options: Options, clients: int
) -> dict[str, Any]:
    """Each kind of query `options.queries` times with seeded random values, a page of 100.
    Each number of clients gets its own values, so no run finds the pages of another cached."""
    rng = random.Random(7 + clients)
    picks = [query_parameters(corpus, rng) for _ in range(options.queries)]
    headers = {**VERSION, "Authorization": authorization}
    results = {}
    for kind in picks[0]:

        def get(i: int, kind: str = kind) -> load.Request:
            return load.Request("GET", "/xapi/statements", {**picks[i][kind], "limit": "100"})

        results[kind] = asdict(await load.run(server.url, headers, get, options.queries, clients))
    return results


async def paging(server: Server, corpus: Corpus, authorization: str) -> dict[str, Any]:
    """10,000 results of one query, 100 a page, following `more`: each page's latency."""
    headers = {**VERSION, "Authorization": authorization}
    latencies = []
    connection = load.Connection(server.url, headers)
    request = load.Request(
        "GET", "/xapi/statements", {"verb": corpus.verb_id("experienced"), "limit": "100"}
    )
    try:
        for _ in range(100):
            started = time.perf_counter()
            response = await connection.send(request)
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {response.body[:300]!r}")
            more = response.json()["more"]
            if not more:
                break
            request = load.Request("GET", more)
    finally:
        await connection.close()
    return {
        "pages": len(latencies),
        "timing": asdict(load.timing(latencies, sum(latencies))),
        "first_10_median_ms": statistics.median(latencies[:10]) * 1000,
        "last_10_median_ms": statistics.median(latencies[-10:]) * 1000,
    }


async def documents(server: Server, writer: Writer, options: Options) -> dict[str, Any]:
    headers = {**VERSION, "Authorization": writer.authorization}

    def params(i: int) -> dict[str, str]:
        return {
            "activityId": f"https://courses.example.com/c{i % 60}",
            "agent": json.dumps({"mbox": f"mailto:learner{i}@corp.example.com"}),
            "stateId": f"https://courses.example.com/state/{uuid.UUID(int=i)}",
        }

    body = json.dumps(
        {"bookmark": "page-12", "progress": 0.42, "answers": list(range(40))}
    ).encode()

    def put(i: int) -> load.Request:
        return load.Request("PUT", "/xapi/activities/state", params(i), JSON, body)

    def get(i: int) -> load.Request:
        return load.Request("GET", "/xapi/activities/state", params(i))

    return {
        "put": asdict(await load.run(server.url, headers, put, options.singles, options.clients)),
        "get": asdict(await load.run(server.url, headers, get, options.singles, options.clients)),
    }


async def bench_backend(backend: str, options: Options, stamp: str) -> dict[str, Any]:
    print(f"[{backend}] ingest over HTTP, learner models off", flush=True)
    result: dict[str, Any] = {
        "ingest_without_models": await ingest_without_models(backend, options, stamp)
    }
    url, engine = await fresh_database(backend, stamp)
    result["database_version"] = await database_version(engine)
    corpus = Corpus()
    server = Server(url, options.port, options.workers, RESULTS / f"{stamp}-{backend}.log")
    try:
        writers, analyst = await make_writers(server, engine)
        print(f"[{backend}] ingest over HTTP, learner models on", flush=True)
        result["ingest"] = await ingest_with_models(server, engine, writers, options)
        result["models_cost"] = (
            result["ingest_without_models"]["statements_per_second"]
            / result["ingest"]["statements_per_second_with_models_current"]
            - 1
        )
        if options.ingest_only:
            return result
        await autovacuum_stand_in(engine)
        print(f"[{backend}] single POST / PUT", flush=True)
        result["single"] = await singles(server, corpus, writers, options)
        print(f"[{backend}] database limit", flush=True)
        result["limit"] = await database_limit(engine, corpus, writers, options.ingest)
        result["ingest_to_limit"] = (
            result["ingest_without_models"]["statements_per_second"]
            / result["limit"]["statements_per_second"]
        )
        print(f"[{backend}] filling to {options.statements} statements", flush=True)
        result["fill"] = await fill(engine, corpus, writers, options.statements)
        print(f"[{backend}] queries", flush=True)
        # Latency alone (one client), then under load (four concurrent clients).
        for clients in QUERY_CLIENTS:
            for scope, authorization in (("tenant", writers[1].authorization), ("rollup", analyst)):
                result[f"queries_{scope}_{clients}"] = await queries(
                    server, corpus, authorization, options, clients
                )
        result["paging"] = await paging(server, corpus, analyst)
        print(f"[{backend}] documents", flush=True)
        result["documents"] = await documents(server, writers[1], options)
        result["peak_worker_rss_mb"] = server.peak_worker_rss_mb()
    finally:
        server.stop()
        await engine.dispose()
        await drop_database(url)
    return result


# The libraries on the request path, whose versions a fresh environment may not repeat.
LIBRARIES = ("fastapi", "starlette", "uvicorn", "uvloop", "sqlalchemy", "asyncpg", "aiosqlite",
             "pydantic", "orjson")  # fmt: skip


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "commit": _commit(),
        "libraries": {name: metadata.version(name) for name in LIBRARIES},
    }


def _commit() -> str:
    """HEAD, marked when the working tree (results aside) differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603 - our own git command
            ["git", *args],  # noqa: S607 - git from PATH, as make finds it
            cwd=RESULTS.parent.parent,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", ".", ":(exclude)bench/results")
    except OSError:  # no git here
        return "unknown"
    return (head or "unknown") + ("-dirty" if changed else "")


async def database_version(engine: AsyncEngine) -> str:
    query = (
        "SHOW server_version" if engine.dialect.name == "postgresql" else "SELECT sqlite_version()"
    )
    async with engine.connect() as connection:
        return str(await connection.scalar(text(query)))


def table(backend: str, r: dict[str, Any]) -> str:
    def pp(t: dict[str, Any]) -> str:
        return f"p50/p99 {t['p50_ms']:.1f} / {t['p99_ms']:.1f} ms"

    def rate(t: dict[str, Any]) -> str:
        return f"{t['count'] / t['seconds']:,.0f} requests/s, {pp(t)}"

    def markdown(rows: list[tuple[str, str]]) -> str:
        lines = [f"## {backend}", "| measure | value |", "| --- | --- |"]
        return "\n".join(lines + [f"| {label} | {value} |" for label, value in rows])

    ingest, plain = r["ingest"], r["ingest_without_models"]
    rows = [
        (
            "batch ingest (100 a batch), learner models off",
            f"{plain['statements_per_second']:,.0f} statements/s, batch {pp(plain['batch'])}; "
            f"server CPU {plain['cpu_seconds_per_1000_statements']:.2f} s per 1,000",
        ),
        (
            "batch ingest, learner models on",
            f"{ingest['statements_per_second']:,.0f} statements/s, batch {pp(ingest['batch'])}",
        ),
        (
            "... until the models hold every statement",
            f"{ingest['statements_per_second_with_models_current']:,.0f} statements/s "
            f"({ingest['models_current_after_seconds']:.1f} s after the last batch); "
            f"the models add {r['models_cost']:.0%} to ingest time; server CPU "
            f"{ingest['cpu_seconds_per_1000_statements_with_models']:.2f} s per 1,000",
        ),
    ]
    if "single" not in r:  # --ingest-only
        return markdown(rows)
    paging = r["paging"]
    rows += [
        (
            f"database limit (bulk rows, median of {LIMIT_RUNS})",
            f"{r['limit']['statements_per_second']:,.0f} statements/s ("
            + ", ".join(f"{rate:,.0f}" for rate in r["limit"]["runs_statements_per_second"])
            + f"); ingest / limit = {r['ingest_to_limit']:.0%}",
        ),
        ("single POST", rate(r["single"]["post"])),
        ("single PUT", rate(r["single"]["put"])),
    ]
    for scope in ("tenant", "rollup"):
        for kind in r[f"queries_{scope}_1"]:
            loads = "; ".join(
                f"{clients} client(s) {pp(r[f'queries_{scope}_{clients}'][kind])}"
                for clients in QUERY_CLIENTS
            )
            rows.append((f"query {kind} ({scope})", loads))
    rows += [
        (
            f"`more` paging, {paging['pages']} pages of 100",
            f"{pp(paging['timing'])}; median of the first 10 pages "
            f"{paging['first_10_median_ms']:.1f} ms, of the last 10 "
            f"{paging['last_10_median_ms']:.1f} ms",
        ),
        ("state PUT", rate(r["documents"]["put"])),
        ("state GET", rate(r["documents"]["get"])),
        ("peak RSS per worker", f"{r['peak_worker_rss_mb']:.0f} MB"),
    ]
    return markdown(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--ingest", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--singles", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="only the ingests with the learner models off and on: their cost in minutes",
    )
    args = parser.parse_args()
    options = Options(
        args.backends.split(","),
        args.statements,
        args.ingest,
        args.clients,
        args.workers,
        args.singles,
        args.queries,
        args.port,
        args.ingest_only,
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    ran_on = machine()  # the tree as the run starts
    for backend in options.backends:
        # The load generator shares the cores with the server: on uvloop, as the server is,
        # it spends about 170 µs of CPU per single POST instead of 200.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(bench_backend(backend, options, stamp))
        record = {
            "backend": backend,
            "options": asdict(options),
            "machine": ran_on,
            "result": result,
        }
        (RESULTS / f"{stamp}-{backend}.json").write_text(json.dumps(record, indent=2))
        print(table(backend, result), flush=True)


if __name__ == "__main__":
    main()
