"""The load profiles' judgement (bench/load/profiles.py, docs/benchmarks.md "Load: smoke and
stress"): when a step holds, which step is the knee, when the ramp stops, and how a run's verdict
treats the gate (smoke enforces it whole; stress, which goes past the knee on purpose, enforces
all but the latency and 5xx limits)."""

from __future__ import annotations

import pytest

from bench.load import profiles, run
from ops import gate


def step(rate: float, p95: float, requests: int = 1000, errors: int = 0,
         achieved: float | None = None, window_s: float = 10.0) -> dict:
    tally = profiles.StepTally(index=0, rate=rate, users=int(rate / 2), window_s=window_s,
                               requests=requests, errors=errors,
                               accept_ms=[p95 / 2] * 94 + [p95] * 6)
    result = profiles.step_result(tally)
    if achieved is not None:
        result["achievedRate"] = achieved
        result["held"], result["why"] = profiles.judge(result)
    return result


def test_the_limits_are_the_gates() -> None:
    assert profiles.ACCEPT_P95_MAX_MS == gate.P95_MAX_MS
    assert profiles.ERROR_PCT_MAX == gate.ERROR_RATE_MAX_PCT


def test_quantile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert profiles.quantile(values, 0.95) == 95
    assert profiles.quantile(values, 0.5) == 50
    assert profiles.quantile([7.0], 0.99) == 7.0
    assert profiles.quantile([], 0.5) is None


@pytest.mark.parametrize(("result", "why"), [
    (step(100, 251.0, achieved=100.0), "accept p95 251 ms > 250 ms"),
    (step(100, 100.0, requests=1000, errors=11, achieved=100.0), "errors 1.10 % > 1 %"),
    (step(100, 100.0, achieved=89.0), "achieved 89.0 req/s < 90% of 100 offered"),
    (step(100, 100.0, requests=0), "no requests measured"),
])
def test_a_step_that_does_not_hold_says_why(result, why) -> None:
    assert result["held"] is False
    assert result["why"] == why


def test_a_step_within_every_limit_holds() -> None:
    result = step(100, 250.0, requests=1000, errors=10, achieved=90.0)
    assert result["held"] is True, result["why"]


def test_the_knee_is_the_highest_rate_that_held() -> None:
    results = [step(20, 50.0, achieved=20.0), step(40, 80.0, achieved=40.0),
               step(60, 300.0, achieved=58.0), step(80, 200.0, achieved=79.0),
               step(100, 400.0, achieved=70.0)]
    knee = profiles.knee(results)
    assert knee is not None and knee["offeredRate"] == 80
    assert profiles.knee([step(20, 300.0, achieved=20.0)]) is None


def test_the_ramp_stops_after_two_failed_steps_in_a_row() -> None:
    ok, bad = step(20, 50.0, achieved=20.0), step(40, 400.0, achieved=40.0)
    assert not profiles.should_stop(profiles.STRESS, [ok, bad])
    assert not profiles.should_stop(profiles.STRESS, [bad, ok])
    assert profiles.should_stop(profiles.STRESS, [ok, bad, bad])
    assert not profiles.should_stop(profiles.SMOKE, [bad, bad])  # smoke runs its one step


def test_profiles_resize_and_users_follow_the_offered_rate() -> None:
    smoke = profiles.make_profile("smoke", seconds=15)
    assert [(s.rate, s.seconds) for s in smoke.steps] == [(16.0, 15.0)]
    assert smoke.settle_s == 3.75  # never more than a quarter of a step
    stress = profiles.make_profile("stress", seconds=10, rates=[30, 45])
    assert [(s.rate, s.seconds) for s in stress.steps] == [(30.0, 10.0), (45.0, 10.0)]
    assert [stress.users(s) for s in stress.steps] == [15, 23]
    assert profiles.from_json(profiles.to_json(stress)) == stress
    assert stress.step_at(0) == 0 and stress.step_at(10.0) == 1 and stress.step_at(20.0) == 2
    assert stress.seconds == stress.warmup_s + 20.0  # the warm-up runs before the first step
    assert profiles.make_profile("smoke", warmup_s=5).warmup_s == 5


def test_the_gate_window_opens_a_publish_interval_after_the_warm_up(monkeypatch) -> None:
    monkeypatch.setattr(run.time, "time", lambda: 1000.0)
    assert run.gate_window(1000.0 - 100) == 100 - run.PUBLISH_EVERY_S - 1
    assert run.gate_window(1000.0 - 30) == run.GATE_MIN_WINDOW_S  # never below the gate's minimum
    assert run.gate_window(None) == run.GATE_MIN_WINDOW_S


def summary(profile: str, gate_verdict: dict, steps: list[dict], gaps: int = 0) -> dict:
    return {"steps": steps, "knee": profiles.knee(steps), "gate": gate_verdict,
            "subscribers": {"gaps": gaps, "connects": 2}}


def test_smoke_fails_on_any_gate_reason_and_on_gaps() -> None:
    held = [step(16, 90.0, achieved=16.0)]
    assert run.verdict(profiles.SMOKE, summary("smoke", {"pass": True}, held)) == []
    slow = {"pass": False, "reasons": ["LatencyP95 300.0 ms > 250 ms"]}
    assert run.verdict(profiles.SMOKE, summary("smoke", slow, held)) == [
        "gate: LatencyP95 300.0 ms > 250 ms"]
    assert run.verdict(profiles.SMOKE, summary("smoke", {"pass": True}, held, gaps=1)) == [
        "subscribers saw 1 seq/prevSeq gap(s)"]


def test_stress_reports_the_slo_breach_past_the_knee_but_fails_on_invariants() -> None:
    steps = [step(20, 90.0, achieved=20.0), step(40, 400.0, achieved=35.0)]
    past_knee = {"pass": False, "reasons": ["LatencyP95 400.0 ms > 250 ms",
                                            "Http5xxRate 2.00 % > 1 %"]}
    assert run.verdict(profiles.STRESS, summary("stress", past_knee, steps)) == []
    broken = {"pass": False, "reasons": ["LatencyP95 400.0 ms > 250 ms",
                                         "DoubleFillViolations 1 > 0 (fresh reconcile)",
                                         "Http5xxRate missing: no value in the 60 s window; "
                                         "read from cloudwatch"]}
    assert run.verdict(profiles.STRESS, summary("stress", broken, steps)) == [
        "gate: DoubleFillViolations 1 > 0 (fresh reconcile)",
        "gate: Http5xxRate missing: no value in the 60 s window; read from cloudwatch"]
    none_held = [step(20, 400.0, achieved=20.0)]
    assert run.verdict(profiles.STRESS, summary("stress", {"pass": True}, none_held)) == [
        "no step held (accept p95 <= 250 ms, errors <= 1 %)"]
