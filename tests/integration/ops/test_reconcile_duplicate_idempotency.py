"""Two orders carrying the same idempotency-key hash: reported once (the duplicate, next to the
order the idempotency record names); --fix cancels the duplicate, never the original."""

import hashlib

from tests.integration.ops.ledger_plant import found, new_symbol, reconcile_json


def test_duplicate_idempotency_key_reported_and_fixed(ops_stack, planter):
    symbol = new_symbol()
    ik = hashlib.sha256(f"client-a{symbol}-key-1".encode()).hexdigest()
    original = planter.order(symbol, "BUY", 5, "OPEN", ik=ik)
    planter.idempotency_record(ik, original)
    duplicate = planter.order(symbol, "BUY", 5, "OPEN", ik=ik)
    planter.event(symbol, 1, "OrderOpened", {"orderId": original})
    planter.event(symbol, 2, "OrderOpened", {"orderId": duplicate})
    planter.shard(symbol, 2)

    code, report = reconcile_json(ops_stack, "--symbol", symbol)
    assert code == 1
    assert found(report) == {("duplicate_idempotency", (original, duplicate))}

    code, fixed = reconcile_json(ops_stack, "--symbol", symbol, "--fix")
    assert fixed["actions"][0]["cancelled"] == [duplicate]
    assert planter.get_order(duplicate)["status"]["S"] == "CANCELLED"
    assert planter.get_order(original)["status"]["S"] == "OPEN"

    code, again = reconcile_json(ops_stack, "--symbol", symbol)
    assert (code, again["findings"]) == (0, [])
