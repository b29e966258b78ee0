"""The pipeline gate through `manage.py gate`: with no metric in the window it fails naming each
missing one (exit 1); once the SLO metrics are in CloudWatch (what the projector's publisher puts
there) a clean ledger passes (exit 0); a planted double fill fails it again (exit 1)."""

import json

from ops import metrics_export
from tests.integration.ops.ledger_plant import consistent_ledger, new_symbol, run_manage


def test_gate_passes_clean_and_fails_on_planted_double_fill(
        ops_stack, planter, tmp_path):
    # An empty metrics registry keeps other tests' HTTP latency on this shared, loaded machine out
    # of the verdict; nothing in this package publishes to CloudWatch before this test does.
    env = dict(ops_stack.env, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    symbol = new_symbol()
    ledger = consistent_ledger(planter, symbol)

    quiet = run_manage(ops_stack, "gate", "--symbol", symbol, "--window", "120", env=env)
    assert quiet.returncode == 1, quiet.stderr
    assert json.loads(quiet.stdout) == {"pass": False, "reasons": [
        "LatencyP95 missing: no value in the 120 s window; read from "
        "cloudwatch (nothing in the window), then the local registry",
        "Http5xxRate missing: no value in the 120 s window; read from "
        "cloudwatch (nothing in the window), then the local registry",
    ]}

    ops_stack.boto("cloudwatch").put_metric_data(
        Namespace=metrics_export.CLOUDWATCH_NAMESPACE,
        MetricData=[{"MetricName": name, "Value": value, "Unit": metrics_export.UNITS[name],
                     "Dimensions": [{"Name": "Region", "Value": ops_stack.env["AWS_REGION"]}]}
                    for name, value in (("LatencyP95", 12.0), ("Http5xxRate", 0.0))])
    clean = run_manage(ops_stack, "gate", "--symbol", symbol, env=env)
    assert json.loads(clean.stdout) == {"pass": True}, clean.stderr
    assert clean.returncode == 0

    extra_buyer = planter.order(symbol, "BUY", 7, "FILLED", filled=7)
    planter.trade(symbol, 3, 7, extra_buyer, ledger.sell)  # 4 + 7 > 10
    planter.shard(symbol, 3)
    failed = run_manage(ops_stack, "gate", "--symbol", symbol, env=env)
    verdict = json.loads(failed.stdout)
    assert failed.returncode == 1
    assert verdict == {"pass": False,
                       "reasons": ["DoubleFillViolations 1 > 0 (fresh reconcile)"]}, verdict
