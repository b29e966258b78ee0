"""A consistent ledger reconciles clean: exit 0, a stored run with no findings."""

from tests.integration.ops.ledger_plant import (
    consistent_ledger,
    new_symbol,
    reconcile_json,
    run_manage,
)


def test_consistent_ledger_is_clean(ops_stack, planter):
    symbol = new_symbol()
    consistent_ledger(planter, symbol)
    code, report = reconcile_json(ops_stack, "--symbol", symbol)
    assert report["findings"] == []
    assert code == 0
    assert report["status"] == "clean"
    human = run_manage(ops_stack, "reconcile", "--symbol", symbol)
    assert human.returncode == 0 and "CLEAN" in human.stdout
