"""Reads the state of record straight from DynamoDB and checks the golden invariants (docs/rules.md):
Σ trade qty per order ≤ qty and == filledQty, notional consistent, gap-free seq per shard, every
trade in the event log, and no accepted order left unmatched."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from tests.support.stack import StackHandle


def _all_pages(call: Any, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(10_000):
        page = call(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError("paging did not finish")


def _scan(stack: StackHandle, table: str, prefix: str) -> list[dict[str, Any]]:
    return _all_pages(stack.boto("dynamodb").scan, TableName=table, ConsistentRead=True,
                      FilterExpression="begins_with(pk, :p)",
                      ExpressionAttributeValues={":p": {"S": prefix}})


def orders(stack: StackHandle, symbol: str | None = None) -> dict[str, dict[str, Any]]:
    found = {}
    for item in _scan(stack, stack.env["ORDERS_TABLE"], "ORDER#"):
        if symbol is None or item["symbol"]["S"] == symbol:
            found[item["orderId"]["S"]] = item
    return found


def trades(stack: StackHandle, symbol: str | None = None) -> list[dict[str, Any]]:
    return [t for t in _scan(stack, stack.env["TRADES_TABLE"], "TRADE#")
            if symbol is None or t["symbol"]["S"] == symbol]


def events(stack: StackHandle, symbol: str) -> list[dict[str, Any]]:
    """The symbol's stored events ({seq, symbol, type, ts, payload}, seq order), read from its
    event pages; every page must hold exactly the contiguous seqs its keys name."""
    from tulip import event_pages
    from tulip.schema import EventPageItem

    pages = _all_pages(stack.boto("dynamodb").query, TableName=stack.env["TRADES_TABLE"],
                       ConsistentRead=True, KeyConditionExpression="pk = :p",
                       ExpressionAttributeValues={":p": {"S": event_pages.pk(symbol)}})
    for page in pages:
        seqs = [e["seq"] for e in event_pages.decode_item(page)]
        first, last = int(page["firstSeq"]["N"]), int(page["lastSeq"]["N"])
        assert seqs == list(range(first, last + 1)), f"page {page['sk']['S']} holds {seqs}"
        epoch = int(page.get("epoch", {"N": "0"})["N"])
        assert page["sk"]["S"] == event_pages.sk(last, epoch), "a page is keyed by its last seq"
    return event_pages.flatten(EventPageItem.from_raw_data(i) for i in pages)


def shard_last_seq(stack: StackHandle, symbol: str) -> int:
    item = stack.boto("dynamodb").get_item(
        TableName=stack.env["TRADES_TABLE"], ConsistentRead=True,
        Key={"pk": {"S": f"SHARD#{symbol}"}, "sk": {"S": f"SHARD#{symbol}"}}).get("Item", {})
    return int(item.get("lastSeq", {}).get("N", "0"))


def wait_until_matched(stack: StackHandle, order_ids: list[str], timeout: float = 60) -> None:
    """Until none of the orders is still ACCEPTED (the matcher has seen each of them)."""
    deadline = time.monotonic() + timeout
    pending = set(order_ids)
    while pending and time.monotonic() < deadline:
        current = orders(stack)
        pending = {i for i in pending if current.get(i, {}).get("status", {}).get("S") == "ACCEPTED"}
        if pending:
            time.sleep(0.3)
    assert not pending, f"{len(pending)} orders never matched, e.g. {sorted(pending)[:3]}"


def assert_ledger(stack: StackHandle, symbol: str) -> None:
    all_orders = orders(stack, symbol)
    all_trades = trades(stack, symbol)
    filled: dict[str, int] = defaultdict(int)
    notional: dict[str, int] = defaultdict(int)
    trade_ids = set()
    for trade in all_trades:
        assert trade["tradeId"]["S"] not in trade_ids, "duplicate trade id"
        trade_ids.add(trade["tradeId"]["S"])
        qty, price = int(trade["qty"]["N"]), int(trade["priceTicks"]["N"])
        assert qty > 0
        for leg in ("buyOrderId", "sellOrderId"):
            filled[trade[leg]["S"]] += qty
            notional[trade[leg]["S"]] += qty * price
    for order_id, order in all_orders.items():
        qty = int(order["qty"]["N"])
        assert filled[order_id] <= qty, f"double fill: {order_id} {filled[order_id]} > {qty}"
        assert filled[order_id] == int(order["filledQty"]["N"]), (
            f"{order_id}: trades {filled[order_id]} != filledQty {order['filledQty']['N']}")
        assert notional[order_id] == int(order.get("filledNotionalTicks", {"N": "0"})["N"])
        status = order["status"]["S"]
        if status == "FILLED":
            assert filled[order_id] == qty
        if status in ("OPEN", "PARTIALLY_FILLED"):
            assert 0 < qty - filled[order_id]
            assert order["openSort"]["S"].startswith("B#")
        if status in ("FILLED", "CANCELLED"):
            assert "openSymbol" not in order, f"{order_id} terminal but still indexed as open"
    for order_id in filled:
        # SimFill's simulated counterparty ("sim:<orderId>") is the only leg without an order.
        assert order_id in all_orders or order_id.startswith("sim:"), (
            f"trade for unknown order {order_id}")
    stored = events(stack, symbol)
    seqs = [e["seq"] for e in stored]
    last = shard_last_seq(stack, symbol)
    assert seqs == list(range(1, last + 1)), "event seq is not gap-free from 1 to lastSeq"
    traded_seqs = {e["seq"] for e in stored if e["type"] == "TradeExecuted"}
    assert {int(t["seq"]["N"]) for t in all_trades} == traded_seqs
