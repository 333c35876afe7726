"""SIGTERM lets the requests in flight finish: the server stops taking new connections,
answers the ones it is serving, then exits."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path

from sqlalchemy import select

from bench.server import Server
from lrs.db import create_engine
from statements.tables import statements
from tests.factories import statement
from tests.lrs.test_scale_out import HEADERS, free_port


async def test_a_request_in_flight_at_sigterm_is_answered_and_kept(
    empty_database_url: str, tmp_path: Path
) -> None:
    server = Server(empty_database_url, free_port(), 1, tmp_path / "server.log")
    try:
        host, port = server.url.removeprefix("http://").split(":")
        body = json.dumps(statement(id=str(uuid.uuid4()))).encode()
        reader, writer = await asyncio.open_connection(host, int(port))
        head = "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items())
        writer.write(
            f"POST /xapi/statements HTTP/1.1\r\nHost: {host}\r\n{head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        await writer.drain()
        await asyncio.sleep(0.5)  # the request is being read when the signal comes
        server.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        writer.write(body[10:])
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 200"), status_line
        # Shut down cleanly, uvicorn ends by raising the signal again on itself.
        assert await asyncio.to_thread(server.wait, 30) in {0, -signal.SIGTERM}
    finally:
        server.stop()
    engine = create_engine(empty_database_url)
    async with engine.connect() as connection:
        stored = (await connection.execute(select(statements.c.statement_id))).scalars().all()
    await engine.dispose()
    assert [str(statement_id) for statement_id in stored] == [json.loads(body)["id"]]
