"""A missing event inside 1..lastSeq is a gap; --fix records it with a Reconciled event at the
next seq (never back-fills the past); a rerun is clean."""

from tests.integration.ops.ledger_plant import consistent_ledger, new_symbol, reconcile_json


def test_seq_gap_reported_and_acknowledged(ops_stack, planter):
    symbol = new_symbol()
    consistent_ledger(planter, symbol)
    other = planter.order(symbol, "SELL", 3, "OPEN")
    planter.event(symbol, 4, "OrderOpened", {"orderId": other})  # seq 3 never stored
    planter.shard(symbol, 4)

    code, report = reconcile_json(ops_stack, "--symbol", symbol)
    assert code == 1
    assert [(f["kind"], f["key"]) for f in report["findings"]] == [
        ("seq_gap", f"seq_gap:{symbol}:3-3")]

    code, fixed = reconcile_json(ops_stack, "--symbol", symbol, "--fix")
    assert fixed["actions"][0]["ok"] and fixed["actions"][0]["seq"] == 5
    seqs = [e["seq"] for e in planter.events(symbol)]
    assert seqs == [1, 2, 4, 5]  # the gap stays: history is not rewritten

    code, again = reconcile_json(ops_stack, "--symbol", symbol)
    assert (code, again["findings"]) == (0, [])
