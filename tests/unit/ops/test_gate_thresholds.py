"""The gate's verdict from given metrics and ledger counts: the service levels of docs/rules.md."""

import pytest

from ops.gate import evaluate
from tulip.config import load_config

CFG = load_config({"TULIP_ENV": "test"})


@pytest.mark.parametrize(("metrics", "ledger", "reason"), [
    ({"LatencyP95": 251.0, "Http5xxRate": 0.0}, {}, "LatencyP95 251.0 ms > 250 ms"),
    ({"LatencyP95": 10.0, "Http5xxRate": 1.5}, {}, "Http5xxRate 1.50 % > 1 %"),
    ({}, {"double_fill": 2}, "DoubleFillViolations 2 > 0 (fresh reconcile)"),
    ({}, {"seq_gap": 1}, "seq gaps 1 > 0 (fresh reconcile)"),
])
def test_each_threshold_fails_with_its_reason(metrics, ledger, reason):
    assert evaluate(CFG, metrics=metrics, ledger=ledger) == {"pass": False, "reasons": [reason]}


def test_within_slo_passes():
    assert evaluate(CFG, metrics={"LatencyP95": 250.0, "Http5xxRate": 1.0},
                    ledger={"double_fill": 0, "seq_gap": 0}) == {"pass": True}
