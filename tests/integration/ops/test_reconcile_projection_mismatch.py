"""Reconcile compares the projection with DynamoDB (items older than the allowed lag): a row that
disagrees is a finding; --fix re-projects it from DynamoDB; the rerun is clean."""

import sqlite3

from tests.integration.ops.ledger_plant import (
    consistent_ledger,
    found,
    new_symbol,
    reconcile_json,
    run_manage,
)


def test_projection_disagreement_found_and_reprojected(ops_stack, planter, tmp_path):
    db = tmp_path / "projection.sqlite3"
    env = dict(ops_stack.env, TULIP_SQLITE_PATH=str(db))
    assert run_manage(ops_stack, "migrate", "--noinput", env=env).returncode == 0
    symbol = new_symbol()
    ledger = consistent_ledger(planter, symbol)
    assert run_manage(ops_stack, "project_streams", "--once", env=env).returncode == 0
    code, report = reconcile_json(ops_stack, "--symbol", symbol, "--projection-lag", "0", env=env)
    assert (code, report["findings"]) == (0, [])

    with sqlite3.connect(db) as conn:  # the projection drifts (e.g. a bug, a hand edit)
        conn.execute("UPDATE ops_projectedorder SET filled_qty = 9 WHERE order_id = ?",
                     (ledger.buy,))
    code, report = reconcile_json(ops_stack, "--symbol", symbol, "--projection-lag", "0", env=env)
    assert code == 1
    assert found(report) == {("projection_mismatch", (ledger.buy,))}

    reconcile_json(ops_stack, "--symbol", symbol, "--projection-lag", "0", "--fix", env=env)
    code, again = reconcile_json(ops_stack, "--symbol", symbol, "--projection-lag", "0", env=env)
    assert (code, again["findings"]) == (0, [])
    assert not [e for e in planter.events(symbol) if e["type"] == "Reconciled"]
