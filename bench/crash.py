"""`make crash-test`: every statement the LRS acknowledged survives a SIGKILL of the whole
server, and a batch that was in flight at the kill is stored whole or not at all.

    python -m bench.crash [--backends postgresql,sqlite] [--kills 6] [--clients 8]
                          [--workers 2] [--seed 1] [--largest 50]

For each back end: a fresh database; then, `--kills` times, `lrs serve` is started, loaded
by concurrent clients posting batches of 1 to `--largest` statements with ids of their own
(`--largest 1`: single statements, which arrive together and share writes), and
killed (SIGKILL to the supervisor and its workers at once) at a random moment. Afterwards
the database is read directly. Prints acknowledged / stored / lost statements and the
in-flight batches found half stored; exits 1 unless lost and half stored are both 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from bench import load
from bench.corpus import Corpus
from bench.run import JSON, RESULTS, VERSION, basic, drop_database, fresh_database
from bench.server import ADMIN_KEY, ADMIN_SECRET, Server
from statements.tables import statements


@dataclass
class Outcome:
    acknowledged: set[str] = field(default_factory=set)
    in_flight: list[list[str]] = field(default_factory=list)  # batches sent, never answered
    refused: list[str] = field(default_factory=list)  # answers other than 200


async def client(
    server: Server,
    corpus: Corpus,
    rng: random.Random,
    outcome: Outcome,
    stop: asyncio.Event,
    largest: int,
) -> None:
    """Posts batches until the server dies under it."""
    headers = {**VERSION, **JSON, "Authorization": basic(ADMIN_KEY, ADMIN_SECRET)}
    connection = load.Connection(server.url, headers)
    while not stop.is_set():
        batch = [
            {
                **corpus.statement(rng.randrange(1_000_000)),
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
            }
            for _ in range(rng.randint(1, largest))
        ]
        ids = [statement["id"] for statement in batch]
        try:
            answer = await connection.send(
                load.Request("POST", "/xapi/statements", body=json.dumps(batch).encode())
            )
        except (OSError, asyncio.IncompleteReadError):
            outcome.in_flight.append(ids)  # killed mid-request: sent, never answered
            return
        if answer.status == 200:
            outcome.acknowledged.update(ids)
        else:
            outcome.refused.append(f"{answer.status}: {answer.body[:200]!r}")


async def crash_backend(backend: str, options: argparse.Namespace, stamp: str) -> dict[str, int]:
    url, engine = await fresh_database(backend, f"crash_{stamp}")
    rng = random.Random(options.seed)
    corpus = Corpus()
    outcome = Outcome()
    try:
        for kill in range(options.kills):
            log = RESULTS / f"crash-{stamp}-{backend}-{kill}.log"
            server = Server(url, options.port, options.workers, log)
            stop = asyncio.Event()
            clients = [
                asyncio.create_task(
                    client(
                        server, corpus, random.Random(rng.random()), outcome, stop, options.largest
                    )
                )
                for _ in range(options.clients)
            ]
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            server.kill()
            stop.set()
            await asyncio.gather(*clients)
            server.stop()
            print(
                f"[{backend}] kill {kill + 1}: {len(outcome.acknowledged)} acknowledged so far",
                flush=True,
            )
        async with engine.connect() as connection:
            stored = {str(i) for i in (await connection.scalars(select(statements.c.statement_id)))}
    finally:
        await engine.dispose()
        await drop_database(url)
    half = [ids for ids in outcome.in_flight if 0 < len(set(ids) & stored) < len(ids)]
    sent = outcome.acknowledged.union(*map(set, outcome.in_flight))
    return {
        "acknowledged": len(outcome.acknowledged),
        "stored": len(stored),
        "lost": len(outcome.acknowledged - stored),
        "in_flight_batches": len(outcome.in_flight),
        "in_flight_stored_whole": sum(1 for ids in outcome.in_flight if set(ids) <= stored),
        "half_stored_batches": len(half),
        "stored_never_sent": len(stored - sent),
        "refused": len(outcome.refused),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--largest", type=int, default=50, help="statements in the largest batch")
    options = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    failed = False
    for backend in options.backends.split(","):
        started = time.perf_counter()
        result = asyncio.run(crash_backend(backend, options, stamp))
        print(
            f"[{backend}] {options.kills} kills in {time.perf_counter() - started:.0f} s: "
            + ", ".join(f"{name} {value}" for name, value in result.items()),
            flush=True,
        )
        failed |= any(
            result[name] for name in ("lost", "half_stored_batches", "stored_never_sent", "refused")
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
