"""The pipeline gate: {"pass": true} on a clean ledger (exit 0), {"pass": false, "reasons"} with
the double fill once one is planted (exit 1)."""

import json

from tests.integration.ops.ledger_plant import consistent_ledger, new_symbol, run_manage


def test_gate_passes_clean_and_fails_on_planted_double_fill(ops_stack, planter, tmp_path):
    # The ledger half of the gate is under test here; the latency/error thresholds are unit-tested
    # (test_gate_thresholds). An empty metrics registry keeps other tests' HTTP latency on this
    # shared, loaded machine out of the verdict.
    env = dict(ops_stack.env, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    symbol = new_symbol()
    ledger = consistent_ledger(planter, symbol)
    clean = run_manage(ops_stack, "gate", "--symbol", symbol, env=env)
    assert json.loads(clean.stdout) == {"pass": True}, clean.stderr
    assert clean.returncode == 0

    extra_buyer = planter.order(symbol, "BUY", 7, "FILLED", filled=7)
    planter.trade(symbol, 3, 7, extra_buyer, ledger.sell)  # 4 + 7 > 10
    planter.shard(symbol, 3)
    failed = run_manage(ops_stack, "gate", "--symbol", symbol, env=env)
    verdict = json.loads(failed.stdout)
    assert failed.returncode == 1
    assert verdict["pass"] is False
    assert any("DoubleFillViolations 1" in r for r in verdict["reasons"]), verdict
