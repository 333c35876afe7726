"""Several server processes on one database act as one LRS: interleaved concurrent batches
from two instances are all stored exactly once, and either instance (and a `more` link
from one followed on the other) reads back exactly what was written."""

from __future__ import annotations

import asyncio
import base64
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.server import ADMIN_KEY, ADMIN_SECRET, Server
from tests.factories import statement

HEADERS = {
    "Authorization": "Basic " + base64.b64encode(f"{ADMIN_KEY}:{ADMIN_SECRET}".encode()).decode(),
    "X-Experience-API-Version": "2.0.0",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def two_servers(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    # One after the other: the first brings the database to the newest schema.
    first = Server(empty_database_url, free_port(), 1, tmp_path / "first.log")
    try:
        second = Server(empty_database_url, free_port(), 1, tmp_path / "second.log")
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


async def read_all(client: httpx.AsyncClient, server: Server, first: httpx.Response) -> list[str]:
    """The ids of a first page and every page its `more` links lead to, read from `server`."""
    ids: list[str] = []
    response = first
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [s["id"] for s in body["statements"]]
        if not body["more"]:
            return ids
        response = await client.get(server.url + body["more"])


async def test_two_instances_store_interleaved_batches_exactly_once(
    two_servers: tuple[Server, Server],
) -> None:
    first, second = two_servers
    batches = [[statement(id=str(uuid.uuid4())) for _ in range(25)] for _ in range(16)]
    # Every batch is sent to one instance, and half of them again to the other at the same
    # time: re-sent identical statements are stored once (Communication 2.1.2).
    sent = [(first if i % 2 else second, batch) for i, batch in enumerate(batches)]
    sent += [(second if i % 2 else first, batch) for i, batch in enumerate(batches) if i % 4 == 0]
    async with httpx.AsyncClient(headers=HEADERS, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(f"{server.url}/xapi/statements", json=batch) for server, batch in sent)
        )
        assert [r.status_code for r in responses] == [200] * len(sent)
        written = sorted(s["id"] for batch in batches for s in batch)
        for server in (first, second):
            page = await client.get(f"{server.url}/xapi/statements", params={"limit": "37"})
            assert sorted(await read_all(client, server, page)) == written
        # The first instance's first page, then the second instance follows its `more` links.
        page = await client.get(f"{first.url}/xapi/statements", params={"limit": "100"})
        ids = await read_all(client, second, page)
    assert len(ids) == len(set(ids))
    assert sorted(ids) == written
