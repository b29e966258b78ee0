"""The load profiles and how a run is judged, step by step. Pure (stdlib only): the Locust file
imports it to shape the run and collect per-step figures, the runner to summarize, the unit tests
to check the knee.

A profile is a list of steps, each an offered request rate held for some seconds. The rate is
offered, not measured: a trader user sends at most `per_user_rate` requests per second (Locust's
`constant_throughput`), so a step of R req/s runs ceil(R / per_user_rate) trader users. When the
service slows down a user cannot keep its pace, and the achieved rate falls below the offered one.

A step *holds* when, over its measured window (the step less its first `settle_s` seconds, while
users join), the accept path's p95 is within the SLO (docs/rules.md: p95 ≤ 250 ms), unexpected
answers are at most 1 % of its requests, and it achieved at least HOLD_FRACTION of the offered
rate. The knee is the highest offered rate of a step that held.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# The gate's limits (ops/gate.py P95_MAX_MS, ERROR_RATE_MAX_PCT; a unit test keeps them equal).
# Repeated here so that the Locust process does not import the ops package.
ACCEPT_P95_MAX_MS = 250.0
ERROR_PCT_MAX = 1.0
HOLD_FRACTION = 0.9  # achieved / offered rate for a step to count as held


@dataclass(frozen=True, slots=True)
class Step:
    rate: float  # offered trader requests per second
    seconds: float


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    steps: tuple[Step, ...]
    per_user_rate: float = 2.0  # requests/s one trader user offers
    subscribers: int = 2  # WebSocket subscriber users, connected for the whole run
    settle_s: float = 4.0  # the first seconds of a step left out of its figures
    # Stop the ramp after this many consecutive steps that did not hold (0: run every step).
    stop_after_failed: int = 0
    # Before the first step, its users run this long unmeasured: new connections and a fresh
    # server's cold paths are not what either profile measures (nor what the gate judges).
    warmup_s: float = 20.0

    def users(self, step: Step) -> int:
        return max(1, math.ceil(step.rate / self.per_user_rate - 1e-9))

    @property
    def seconds(self) -> float:
        """The whole run: the warm-up and every step."""
        return self.warmup_s + sum(step.seconds for step in self.steps)

    def step_at(self, run_time: float) -> int:
        """The index of the step running `run_time` seconds after the warm-up; len(steps) after
        the last one."""
        elapsed = 0.0
        for index, step in enumerate(self.steps):
            elapsed += step.seconds
            if run_time < elapsed:
                return index
        return len(self.steps)

    def step_start(self, index: int) -> float:
        return sum(step.seconds for step in self.steps[:index])


SMOKE = Profile("smoke", (Step(16.0, 60.0),), per_user_rate=2.0, subscribers=2, settle_s=4.0)
STRESS_RATES = (20, 40, 60, 80, 100, 120, 150, 180)
STRESS = Profile("stress", tuple(Step(float(r), 20.0) for r in STRESS_RATES), per_user_rate=2.0,
                 subscribers=4, settle_s=4.0, stop_after_failed=2)
PROFILES = {"smoke": SMOKE, "stress": STRESS}


def make_profile(name: str, seconds: float | None = None,
                 rates: Sequence[float] | None = None, warmup_s: float | None = None) -> Profile:
    """A named profile, optionally resized: `seconds` is the smoke's length or each stress step's;
    `rates` replaces the offered rates (one step each); `warmup_s` the unmeasured start."""
    base = PROFILES[name]
    steps = base.steps
    if rates:
        template = steps[-1]
        steps = tuple(Step(float(rate), template.seconds) for rate in rates)
    if seconds is not None:
        steps = tuple(Step(step.rate, float(seconds)) for step in steps)
    settle = min(base.settle_s, min(step.seconds for step in steps) / 4)
    return Profile(base.name, steps, base.per_user_rate, base.subscribers, settle,
                   base.stop_after_failed, base.warmup_s if warmup_s is None else warmup_s)


def to_json(profile: Profile) -> dict[str, Any]:
    return {"name": profile.name, "perUserRate": profile.per_user_rate,
            "subscribers": profile.subscribers, "settleS": profile.settle_s,
            "stopAfterFailed": profile.stop_after_failed, "warmupS": profile.warmup_s,
            "steps": [{"rate": s.rate, "seconds": s.seconds} for s in profile.steps]}


def from_json(data: dict[str, Any]) -> Profile:
    return Profile(str(data["name"]),
                   tuple(Step(float(s["rate"]), float(s["seconds"])) for s in data["steps"]),
                   float(data["perUserRate"]), int(data["subscribers"]), float(data["settleS"]),
                   int(data["stopAfterFailed"]), float(data["warmupS"]))


def quantile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def latency_summary(values: Sequence[float]) -> dict[str, float | int | None]:
    return {"n": len(values), "p50": quantile(values, 0.50), "p95": quantile(values, 0.95),
            "p99": quantile(values, 0.99), "max": max(values) if values else None}


@dataclass
class StepTally:
    """What one step's measured window saw (filled in by the Locust process)."""

    index: int
    rate: float
    users: int
    window_s: float = 0.0
    requests: int = 0  # trader HTTP requests, every kind
    errors: int = 0  # of those, unexpected answers (wrong status, 5xx, timeouts)
    accept_ms: list[float] = field(default_factory=list)  # POST /order (new and retries)
    ws_messages: int = 0  # every stream message the subscribers received
    ws_commit_ms: list[float] = field(default_factory=list)  # trade ts -> received
    ws_gaps: int = 0


def step_result(tally: StepTally) -> dict[str, Any]:
    window = tally.window_s or float("nan")
    achieved = tally.requests / window if tally.window_s else 0.0
    error_pct = 100.0 * tally.errors / tally.requests if tally.requests else 0.0
    accept = latency_summary(tally.accept_ms)
    result: dict[str, Any] = {
        "step": tally.index + 1, "offeredRate": tally.rate, "users": tally.users,
        "windowS": round(tally.window_s, 1), "requests": tally.requests,
        "achievedRate": round(achieved, 1), "errors": tally.errors,
        "errorPct": round(error_pct, 2), "accept": accept,
        "wsMessages": tally.ws_messages,
        "wsMessagesPerS": round(tally.ws_messages / window, 1) if tally.window_s else 0.0,
        "commitToClient": latency_summary(tally.ws_commit_ms), "wsGaps": tally.ws_gaps,
    }
    result["held"], result["why"] = judge(result)
    return result


def judge(result: dict[str, Any]) -> tuple[bool, str]:
    """Whether a step held, and if not, why (the first reason)."""
    p95 = result["accept"]["p95"]
    if not result["requests"] or p95 is None:
        return False, "no requests measured"
    if p95 > ACCEPT_P95_MAX_MS:
        return False, f"accept p95 {p95:.0f} ms > {ACCEPT_P95_MAX_MS:.0f} ms"
    if result["errorPct"] > ERROR_PCT_MAX:
        return False, f"errors {result['errorPct']:.2f} % > {ERROR_PCT_MAX:.0f} %"
    if result["achievedRate"] < HOLD_FRACTION * result["offeredRate"]:
        return False, (f"achieved {result['achievedRate']:.1f} req/s < "
                       f"{HOLD_FRACTION:.0%} of {result['offeredRate']:.0f} offered")
    return True, ""


def knee(results: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The step with the highest offered rate among those that held (None: none held)."""
    held = [r for r in results if r["held"]]
    return max(held, key=lambda r: r["offeredRate"]) if held else None


def should_stop(profile: Profile, finished: Sequence[dict[str, Any]]) -> bool:
    """After the steps finished so far, whether the ramp should stop: the last
    `stop_after_failed` steps all failed to hold."""
    n = profile.stop_after_failed
    return n > 0 and len(finished) >= n and not any(r["held"] for r in finished[-n:])
