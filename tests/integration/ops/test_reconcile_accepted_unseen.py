"""An ACCEPTED order the matcher never saw (older than --unseen-age) is reported; --fix cancels it
with cancelReason "reconciled" in the same transaction as its Reconciled event."""

from tests.integration.ops.ledger_plant import found, new_symbol, reconcile_json


def test_accepted_unseen_reported_and_cancelled(ops_stack, planter):
    symbol = new_symbol()
    stale = planter.order(symbol, "BUY", 2, "ACCEPTED", accepted_ago_s=600)
    fresh = planter.order(symbol, "BUY", 2, "ACCEPTED")  # younger than the age: not a finding

    code, report = reconcile_json(ops_stack, "--symbol", symbol, "--unseen-age", "60")
    assert code == 1
    assert found(report) == {("accepted_unseen", (stale,))}

    _code, _fixed = reconcile_json(ops_stack, "--symbol", symbol, "--unseen-age", "60", "--fix")
    item = planter.get_order(stale)
    assert item["status"]["S"] == "CANCELLED" and item["cancelReason"]["S"] == "reconciled"
    assert "openSort" not in item
    # No SHARD item existed (no matcher ever ran this symbol): the append created it at seq 1.
    assert planter.last_seq(symbol) == 1 and item["seq"]["N"] == "1"
    assert planter.get_order(fresh)["status"]["S"] == "ACCEPTED"

    code, again = reconcile_json(ops_stack, "--symbol", symbol, "--unseen-age", "60")
    assert (code, again["findings"]) == (0, [])
