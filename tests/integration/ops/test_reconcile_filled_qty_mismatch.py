"""filledQty disagreeing with the trades is reported exactly; --fix cancels the open remainder."""

from tests.integration.ops.ledger_plant import consistent_ledger, found, new_symbol, reconcile_json


def test_filled_qty_mismatch_reported_and_fixed(ops_stack, planter):
    symbol = new_symbol()
    ledger = consistent_ledger(planter, symbol)
    planter.ddb.update_item(
        TableName=ops_stack.env["ORDERS_TABLE"],
        Key={"pk": {"S": f"ORDER#{ledger.sell}"}, "sk": {"S": f"ORDER#{ledger.sell}"}},
        UpdateExpression="SET filledQty = :six", ExpressionAttributeValues={":six": {"N": "6"}})

    code, report = reconcile_json(ops_stack, "--symbol", symbol)
    assert code == 1
    assert found(report) == {("filled_qty_mismatch", (ledger.sell, ledger.trade))}
    assert report["findings"][0]["actual"] == "filledQty = 6"

    code, fixed = reconcile_json(ops_stack, "--symbol", symbol, "--fix")
    assert fixed["actions"][0]["ok"] and fixed["actions"][0]["cancelled"] == [ledger.sell]
    assert planter.get_order(ledger.sell)["status"]["S"] == "CANCELLED"
    assert planter.events(symbol)[-1]["type"] == "Reconciled"

    code, again = reconcile_json(ops_stack, "--symbol", symbol)
    assert (code, again["findings"]) == (0, [])
