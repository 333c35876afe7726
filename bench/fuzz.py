"""`make fuzz`: Schemathesis against openapi/openapi.json and a live server on each back end.

    python -m bench.fuzz [--backends sqlite,postgresql] [--examples 40] [--seed 1]

Every operation gets generated requests, schema-valid and not (Schemathesis' examples,
coverage, fuzzing and stateful phases). The checks: no 5xx answer, every status code,
content type, header and body as the document says, and requests that break the schema
refused. Prints the requests sent and the failures per back end; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.run import RESULTS, drop_database, fresh_database
from bench.server import ADMIN_KEY, ADMIN_SECRET, Server

OPENAPI = Path(__file__).parent.parent / "openapi" / "openapi.json"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)


def run_schemathesis(url: str, options: argparse.Namespace, report: Path) -> int:
    command = [
        str(Path(sys.executable).parent / "st"), "run", str(OPENAPI),
        "--url", url,
        "--auth", f"{ADMIN_KEY}:{ADMIN_SECRET}",
        "--checks", ",".join(CHECKS),
        "--max-examples", str(options.examples),
        "--seed", str(options.seed),
        "--generation-deterministic",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        "--no-color",
    ]  # fmt: skip
    return subprocess.run(command, check=False).returncode  # noqa: S603 - our own command


def count_requests(report: Path) -> tuple[int, int]:
    """(requests sent, checks failed) from the NDJSON event stream."""
    sent = failed = 0
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for name, body in event.items():
            if name != "ScenarioFinished":
                continue
            for case in body.get("recorder", {}).get("interactions", {}).values():
                sent += 1 if case.get("response") is not None else 0
            for checks in body.get("recorder", {}).get("checks", {}).values():
                failed += sum(1 for check in checks if check.get("status") == "failure")
    return sent, failed


async def prepared(backend: str, stamp: str) -> str:
    url, engine = await fresh_database(backend, f"fuzz_{stamp}")
    await engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8767)
    options = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    failed = False
    for backend in options.backends.split(","):
        url = asyncio.run(prepared(backend, stamp))
        server = Server(url, options.port, 1, RESULTS / f"fuzz-{stamp}-{backend}.log")
        report = RESULTS / f"fuzz-{stamp}-{backend}.ndjson"
        try:
            status = run_schemathesis(server.url, options, report)
        finally:
            server.stop()
            asyncio.run(drop_database(url))
        sent, failures = count_requests(report)
        print(f"[{backend}] {sent} requests, {failures} failed checks", flush=True)
        failed |= status != 0 or failures > 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
