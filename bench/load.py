"""Concurrent HTTP load: a number of clients share one list of requests and time each."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Timing:
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def timing(latencies: list[float], seconds: float) -> Timing:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Timing(len(ordered), seconds, statistics.median(ordered) * 1000, p99 * 1000)


async def run(
    base_url: str,
    headers: dict[str, str],
    request: Request,
    total: int,
    clients: int,
    expect: tuple[int, ...] = (200, 204),
) -> Timing:
    """Sends requests 0..total-1 over `clients` concurrent connections; every answer must
    have one of the `expect` statuses (a benchmark of errors would measure nothing)."""
    latencies: list[float] = []
    next_index = iter(range(total))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient) -> None:
        for index in next_index:
            started = time.perf_counter()
            response = await request(client, index)
            latencies.append(time.perf_counter() - started)
            if response.status_code not in expect:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=120
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return timing(latencies, elapsed)
