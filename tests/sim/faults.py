"""Every fault of a run, drawn from its seed: the rates of the wire faults, the crash windows,
clock skews, lease pauses, Redis outages, and the count of each fault injected."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

# Crash windows (docs/rules.md, durable before acknowledged; at-least-once delivery). A window is
# a point between two effects where a process can die; each is a point in the real code path:
CRASH_WINDOWS = {
    # order entry: the accept transaction committed, the SQS send not yet made
    "api_after_commit": "API server killed after the order's transaction, before the send",
    # order entry: committed and sent, the client not yet answered
    "api_after_send": "API server killed after the send, before the response",
    # the sweeper: the order claimed (sweptAt written), the re-send not yet made
    "worker_after_claim": "tasks worker killed after claiming an order, before re-sending it",
    # the matcher: the batch applied to the engine, not committed
    "matcher_before_commit": "matcher killed with its batch applied but not committed",
    # the matcher: the batch committed, its messages not yet deleted from SQS
    "matcher_after_commit": "matcher killed after the commit, before the SQS delete",
    # the matcher: committed and deleted, not yet published
    "matcher_before_publish": "matcher killed after apply, before publish",
}


# The scenario profiles whose openOrders index lags (tests/sim/run.py, Scenario.draw).
LAGGING_INDEX_PROFILES = ("stale_reads", "stale_index")


@dataclass(frozen=True, slots=True)
class Rates:
    duplicate: float  # a client request, or an SQS send, arrives twice (10-50 %)
    drop: float  # a response is lost on the way back (the request took effect)
    throttle: float  # DynamoDB ProvisionedThroughputExceededException (nothing done)
    conflict: float  # TransactionCanceledException with TransactionConflict (nothing done)
    crash: dict[str, float]  # per crash window, per passage
    lease_pause: float  # per batch: the holder stops past its lease TTL with the batch computed
    skew_s: float  # each process's clock is off by up to this much
    index_lag_s: float  # a write reaches the GSIs up to this much later

    @classmethod
    def draw(cls, rng: random.Random, profile: str = "default") -> Rates:
        rates = cls(
            duplicate=rng.uniform(0.10, 0.50),
            drop=rng.uniform(0.0, 0.06),
            throttle=rng.uniform(0.0, 0.04),
            conflict=rng.uniform(0.0, 0.03),
            crash={name: rng.choice((0.0, 0.01, 0.03, 0.08)) for name in CRASH_WINDOWS},
            lease_pause=rng.choice((0.0, 0.0, 0.01, 0.03)),
            skew_s=rng.choice((0.0, 0.2, 1.0, 3.0, 8.0)),
            index_lag_s=0.0,
        )
        if profile in LAGGING_INDEX_PROFILES:
            # DynamoDB's GSIs are eventually consistent (moto's are not): writes reach the
            # openOrders index up to ~1 s late, and the matcher's commits are refused often enough
            # (transaction conflicts) that it rebuilds its book from that index right after them.
            rates = replace(rates, index_lag_s=rng.uniform(0.5, 1.5),
                            conflict=rng.uniform(0.10, 0.20))
        return rates


@dataclass
class Faults:
    """The seed's fault decisions; `injected` counts what actually happened, by kind."""

    rates: Rates
    rng: random.Random
    enabled: bool = True
    injected: Counter[str] = field(default_factory=Counter)

    def hit(self, kind: str, probability: float) -> bool:
        if not self.enabled or probability <= 0.0 or self.rng.random() >= probability:
            return False
        self.injected[kind] += 1
        return True

    def note(self, kind: str, count: int = 1) -> None:
        self.injected[kind] += count

    def crash(self, window: str) -> bool:
        return self.hit(f"crash:{window}", self.rates.crash.get(window, 0.0))

    def skew(self) -> float:
        return self.rng.uniform(-self.rates.skew_s, self.rates.skew_s) if self.enabled else 0.0

    def index_lag(self) -> float:
        if not self.enabled or self.rates.index_lag_s <= 0.0:
            return 0.0
        return self.rng.uniform(0.0, self.rates.index_lag_s)
