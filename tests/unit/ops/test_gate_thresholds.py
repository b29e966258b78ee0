"""The gate's verdict from given metrics and ledger counts: the service levels of docs/rules.md,
and a metric it judges that has no value fails it (a quiet source is not a healthy one)."""

import math

import pytest

from ops import gate
from ops.gate import REQUIRED_METRICS, evaluate
from tulip.config import load_config

CFG = load_config({"TULIP_ENV": "test"})
HEALTHY = {"LatencyP95": 120.0, "Http5xxRate": 0.0}


@pytest.mark.parametrize(("metrics", "ledger", "reason"), [
    ({"LatencyP95": 251.0, "Http5xxRate": 0.0}, {}, "LatencyP95 251.0 ms > 250 ms"),
    ({"LatencyP95": 10.0, "Http5xxRate": 1.5}, {}, "Http5xxRate 1.50 % > 1 %"),
    (HEALTHY, {"double_fill": 2}, "DoubleFillViolations 2 > 0 (fresh reconcile)"),
    (HEALTHY, {"seq_gap": 1}, "seq gaps 1 > 0 (fresh reconcile)"),
])
def test_each_threshold_fails_with_its_reason(metrics, ledger, reason):
    assert evaluate(CFG, metrics=metrics, ledger=ledger) == {"pass": False, "reasons": [reason]}


def test_within_slo_passes():
    assert evaluate(CFG, metrics={"LatencyP95": 250.0, "Http5xxRate": 1.0},
                    ledger={"double_fill": 0, "seq_gap": 0}) == {"pass": True}


@pytest.mark.parametrize("missing", REQUIRED_METRICS)
def test_a_missing_metric_fails_naming_it(missing):
    metrics = {name: value for name, value in HEALTHY.items() if name != missing}
    verdict = evaluate(CFG, window_s=600, metrics=metrics, ledger={})
    assert verdict == {"pass": False, "reasons": [
        f"{missing} missing: no value in the 600 s window; read from the caller"]}


def test_a_nan_metric_counts_as_missing():
    verdict = evaluate(CFG, metrics={"LatencyP95": math.nan, "Http5xxRate": 0.0}, ledger={})
    assert verdict["pass"] is False
    assert verdict["reasons"] == [
        "LatencyP95 missing: no value in the 300 s window; read from the caller"]


def test_no_metrics_at_all_fails_on_each_required_one_not_pass():
    # What the gate did before: an empty registry and an empty CloudWatch passed it.
    verdict = evaluate(CFG, metrics={}, ledger={"double_fill": 0, "seq_gap": 0})
    assert verdict["pass"] is False
    assert [r.split(" ")[0] for r in verdict["reasons"]] == list(REQUIRED_METRICS)


def test_missing_and_breached_are_both_reported():
    verdict = evaluate(CFG, metrics={"LatencyP95": 400.0}, ledger={"double_fill": 1})
    assert verdict == {"pass": False, "reasons": [
        "Http5xxRate missing: no value in the 300 s window; read from the caller",
        "LatencyP95 400.0 ms > 250 ms",
        "DoubleFillViolations 1 > 0 (fresh reconcile)"]}


def test_the_source_read_is_named_when_the_gate_reads_metrics_itself(monkeypatch):
    monkeypatch.setattr(gate, "read_metrics", lambda cfg, window_s: ({}, "cloudwatch"))
    verdict = gate.evaluate(CFG, window_s=120, ledger={})
    assert verdict["reasons"] == [
        "LatencyP95 missing: no value in the 120 s window; read from cloudwatch",
        "Http5xxRate missing: no value in the 120 s window; read from cloudwatch"]
