"""An extra trade pushes an order past its qty: reconcile reports exactly that double fill; --fix
appends a Reconciled event (fenced on lastSeq) and cancels the open remainder; a rerun is clean."""


from tests.integration.ops.ledger_plant import consistent_ledger, found, new_symbol, reconcile_json


def test_extra_trade_is_a_double_fill_and_fix_compensates(ops_stack, planter):
    symbol = new_symbol()
    ledger = consistent_ledger(planter, symbol)
    # Plant: a second buyer whose 8-lot trade also hits the sell order (4 + 8 = 12 > 10).
    extra_buyer = planter.order(symbol, "BUY", 8, "FILLED", filled=8)
    extra = planter.trade(symbol, 3, 8, extra_buyer, ledger.sell)
    planter.shard(symbol, 3)

    code, report = reconcile_json(ops_stack, "--symbol", symbol)
    assert code == 1
    assert found(report) == {("double_fill", (ledger.sell, ledger.trade, extra))}
    finding = report["findings"][0]
    assert "12" in finding["actual"] and "10" in finding["expected"]

    code, fixed = reconcile_json(ops_stack, "--symbol", symbol, "--fix")
    assert code == 1  # the run found it; what it did is in actions
    assert [a["ok"] for a in fixed["actions"]] == [True]

    events = planter.events(symbol)
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    reconciled = events[-1]
    assert reconciled["type"] == "Reconciled"
    payload = reconciled["payload"]
    assert payload["findingKey"] == finding["key"] and payload["cancels"] == [ledger.sell]
    assert planter.last_seq(symbol) == 4
    sell = planter.get_order(ledger.sell)
    assert sell["status"]["S"] == "CANCELLED" and sell["cancelReason"]["S"] == "reconciled"
    assert "openSymbol" not in sell and sell["seq"]["N"] == "4"
    # History is intact: both trades are still there.
    assert planter.ddb.get_item(TableName=ops_stack.env["TRADES_TABLE"], Key={
        "pk": {"S": f"TRADE#{extra}"}, "sk": {"S": f"TRADE#{extra}"}}).get("Item")

    code, again = reconcile_json(ops_stack, "--symbol", symbol)
    assert (code, again["findings"]) == (0, [])
    assert again["resolved"] == [finding["key"]]
