"""Exponential backoff with full jitter, used by REST retries and stream reconnects."""

from __future__ import annotations

import random
from dataclasses import dataclass

_RNG = random.Random()


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base·2ⁿ)).
    Full jitter spreads a herd of reconnecting clients over the whole window (AWS architecture
    blog, "Exponential Backoff And Jitter")."""

    base_s: float = 0.25
    # A client must be streaming again within 5 s of the server being back (docs/realtime.md):
    # never wait longer than this between two attempts.
    cap_s: float = 2.0

    def ceiling(self, attempt: int) -> float:
        return min(self.cap_s, self.base_s * (2.0 ** min(max(attempt, 0), 30)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or _RNG).uniform(0.0, self.ceiling(attempt))
