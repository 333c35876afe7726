"""Concurrent HTTP load: a number of clients share one list of requests and time each.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams. It shares the machine's
cores with the server, so it must cost little: a general client such as httpx spends about
4 ms of CPU per request here, more than the server spends answering a single statement.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; requests on it go one after another."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        fixed = {"Host": f"{self._host}:{self._port}", **headers}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, request: Request) -> Response:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        target = request.path + ("?" + urlencode(request.params) if request.params else "")
        extra = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
        head = (
            f"{request.method} {target} HTTP/1.1\r\n{self._fixed}{extra}"
            f"Content-Length: {len(request.body)}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + request.body)
        status_line, _, header_block = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        length = 0
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked answers are not expected from this server")
        body = await reader.readexactly(length) if length else b""
        return Response(int(status_line.split(b" ", 2)[1]), body)

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            await self._streams[1].wait_closed()
            self._streams = None


@dataclass(frozen=True)
class Timing:
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p95_ms: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def timing(latencies: list[float], seconds: float) -> Timing:
    ordered = sorted(latencies)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000

    return Timing(len(ordered), seconds, statistics.median(ordered) * 1000, at(0.99), at(0.95))


async def run(
    base_url: str,
    headers: Mapping[str, str],
    request: Callable[[int], Request],
    total: int,
    clients: int,
    expect: tuple[int, ...] = (200, 204),
) -> Timing:
    """Sends requests 0..total-1 over `clients` concurrent connections; every answer must
    have one of the `expect` statuses (a benchmark of errors would measure nothing). The
    requests are made before the clock starts: made as they are sent, their bodies took the
    load generator about 80 µs of CPU each (a single statement), on the cores the server
    is measured on."""
    latencies: list[float] = []
    prepared = iter([request(index) for index in range(total)])
    connections = [Connection(base_url, headers) for _ in range(clients)]

    async def client_loop(connection: Connection) -> None:
        for ready in prepared:
            started = time.perf_counter()
            response = await connection.send(ready)
            latencies.append(time.perf_counter() - started)
            if response.status not in expect:
                raise RuntimeError(f"{response.status}: {response.body[:300]!r}")

    try:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(connection) for connection in connections))
        elapsed = time.perf_counter() - started
    finally:
        for connection in connections:
            await connection.close()
    return timing(latencies, elapsed)
