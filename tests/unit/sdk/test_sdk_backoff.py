"""Reconnect backoff: exponential ceilings, full jitter within them, bounded by the cap."""

from __future__ import annotations

import random
import statistics

from tulip_client import Backoff


def test_ceilings_grow_exponentially_then_stop_at_the_cap() -> None:
    backoff = Backoff(base_s=0.25, cap_s=2.0)
    assert [backoff.ceiling(n) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert backoff.ceiling(10_000) == 2.0  # no overflow on absurd attempt counts


def test_delays_are_jittered_within_bounds_and_grow() -> None:
    backoff = Backoff(base_s=0.1, cap_s=3.0)
    rng = random.Random(7)
    samples = {n: [backoff.delay(n, rng) for _ in range(2000)] for n in range(8)}
    for n, delays in samples.items():
        assert all(0.0 <= d <= backoff.ceiling(n) for d in delays)
        assert len({round(d, 6) for d in delays}) > 1900  # jitter, not a fixed schedule
        # full jitter: uniform over [0, ceiling] -> mean ≈ ceiling / 2
        assert abs(statistics.mean(delays) - backoff.ceiling(n) / 2) < backoff.ceiling(n) * 0.05
    means = [statistics.mean(samples[n]) for n in range(6)]
    assert means == sorted(means)
    assert max(max(d) for d in samples.values()) <= 3.0
