"""The chaos panel's stop conditions (ops/chaos.py), pure: which values breach which limits, and
what a stop condition may name."""

from __future__ import annotations

import pytest

from ops import chaos, gate


def test_defaults_are_the_gate_limits_and_every_invariant_at_zero() -> None:
    assert chaos.DEFAULT_STOP_CONDITIONS == {
        "LatencyP95": gate.P95_MAX_MS, "Http5xxRate": gate.ERROR_RATE_MAX_PCT,
        "doubleFills": 0.0, "seqGaps": 0.0, "lostAcks": 0.0}


def test_breaches_name_each_metric_or_counter_over_its_limit() -> None:
    conditions = {"LatencyP95": 250.0, "Http5xxRate": 1.0, "doubleFills": 0.0, "lostAcks": 0.0}
    values = {"LatencyP95": 612.5, "Http5xxRate": 0.5}
    counters = {"doubleFills": 0, "lostAcks": 2, "seqGaps": 9}  # seqGaps is not a condition here
    assert chaos.breaches(conditions, values, counters) == [
        "LatencyP95 612.5 Milliseconds > 250", "lostAcks 2 > 0"]


def test_a_metric_without_traffic_breaches_nothing() -> None:
    assert chaos.breaches({"LatencyP95": 250.0}, {}, {}) == []


@pytest.mark.parametrize("raw", [{"Nope": 1}, {"LatencyP95": "fast"}, {"seqGaps": -1}])
def test_bad_conditions_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(chaos.ChaosRefused):
        chaos.parse_conditions(raw)


def test_conditions_parse_to_floats() -> None:
    assert chaos.parse_conditions({"LatencyP99": "900", "seqGaps": 0}) == {
        "LatencyP99": 900.0, "seqGaps": 0.0}
