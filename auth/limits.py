"""Request rates: token buckets per credential (requests) and per client address (failed
authentications), in each server process."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from lrs.errors import TooManyRequests, Unauthorized

# Buckets kept before full ones (those of idle callers) are forgotten.
_KEPT_BUCKETS = 10_000


class RateLimiter:
    """`rate` events per second per key, in bursts of up to `burst`; a rate of 0 limits
    nothing. Each process counts on its own: N processes admit up to N times the rate."""

    def __init__(self, rate: float, burst: int, what: str) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.what = what  # for the 429's message: "requests", "failed authentications"
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._swept = time.monotonic()

    def admit(self, key: str) -> None:
        """Takes one event for `key`, or raises 429 when it has none left."""
        self.check(key)
        self.spend(key)

    def check(self, key: str) -> None:
        """Raises 429 when `key` has no event left, taking none."""
        if self.rate <= 0:
            return
        tokens = self._tokens(key, time.monotonic())
        if tokens < 1:
            raise TooManyRequests(
                f"{key} is over its {self.rate:g} {self.what} per second", (1 - tokens) / self.rate
            )

    def spend(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        self._buckets[key] = (self._tokens(key, now) - 1, now)
        if len(self._buckets) > _KEPT_BUCKETS and now - self._swept > self.burst / self.rate:
            self._forget_full(now)

    def _tokens(self, key: str, now: float) -> float:
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - then) * self.rate)

    def _forget_full(self, now: float) -> None:
        # A bucket refilled to the brim is the same as none.
        refill = self.burst / self.rate
        self._buckets = {
            key: (tokens, then)
            for key, (tokens, then) in self._buckets.items()
            if now - then < refill
        }
        self._swept = now


@contextlib.contextmanager
def counting_failures(limiter: RateLimiter, client: str) -> Iterator[None]:
    """Around an authentication: a client over its failed attempts gets 429 before its
    secret is checked (each check is a slow hash), and a failed attempt counts."""
    limiter.check(client)
    try:
        yield
    except Unauthorized:
        limiter.spend(client)
        raise
