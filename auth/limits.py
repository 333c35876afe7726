"""Per-credential request rates: a token bucket per credential key, in each server process."""

from __future__ import annotations

import time

from lrs.errors import TooManyRequests

# Buckets kept before full ones (those of idle credentials) are forgotten.
_KEPT_BUCKETS = 10_000


class RateLimiter:
    """`rate` requests per second per credential, in bursts of up to `burst`; a rate of 0
    admits everything. Each process counts on its own: N processes behind a load balancer
    admit up to N times the rate."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def admit(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            raise TooManyRequests(
                f"credential {key} is over its {self.rate:g} requests per second",
                (1 - tokens) / self.rate,
            )
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > _KEPT_BUCKETS:
            self._forget_full(now)

    def _forget_full(self, now: float) -> None:
        # A bucket refilled to the brim is the same as none.
        refill = self.burst / self.rate
        self._buckets = {
            key: (tokens, then)
            for key, (tokens, then) in self._buckets.items()
            if now - then < refill
        }
