"""A decision that rests on a resting order without writing it (a post-only refused against it,
a taker stopped at its owner's own order) commits only while that order is still open: the plan
adds a ConditionCheck, or, where the same transaction also updates the order (its user cancel
sequenced later in the batch), makes that update require it open (DynamoDB refuses two
operations on one item in one transaction)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from matching.storage import CommandWrites, CommitPlan, OrderUpdate

CFG: Any = SimpleNamespace(orders_table="orders", trades_table="trades", aws_region="us-east-1",
                           availability_zone=None)


def _refused(seq: int, taker: str, witness: str) -> CommandWrites:
    update = OrderUpdate(taker, 0, 0, 0, "CANCELLED", seq, closed=True, cancel_reason="post_only")
    event = {"seq": seq, "type": "OrderCancelled", "ts": "t", "payload": {"orderId": taker}}
    return CommandWrites([], {taker: update}, seq, seq, [event], checks=[witness])


def _user_cancel(seq: int, order_id: str) -> CommandWrites:
    update = OrderUpdate(order_id, 0, 0, 0, "CANCELLED", seq, closed=True, user_cancelled=True)
    event = {"seq": seq, "type": "OrderCancelled", "ts": "t", "payload": {"orderId": order_id}}
    return CommandWrites([], {order_id: update}, seq, seq, [event])


def _items(commands: list[CommandWrites]) -> dict[str, dict[str, Any]]:
    (chunk,) = CommitPlan(CFG, "SYM", 1, 0, "now", commands).chunks()
    found: dict[str, dict[str, Any]] = {}
    for item in chunk:
        (kind, body), = item.items()
        key = body.get("Key", {}).get("pk", {}).get("S") or body["Item"]["pk"]["S"]
        found[f"{kind} {key}"] = body
    return found


def test_a_witness_gets_a_still_open_check() -> None:
    items = _items([_refused(1, "taker", "maker")])
    check = items["ConditionCheck ORDER#maker"]
    assert check["ConditionExpression"] == "#st IN (:o0, :o1, :o2)"
    assert {v["S"] for v in check["ExpressionAttributeValues"].values()} == {
        "ACCEPTED", "OPEN", "PARTIALLY_FILLED"}
    assert "Update ORDER#taker" in items


def test_a_witness_cancelled_later_in_the_batch_must_be_open_before_it() -> None:
    alone = _items([_user_cancel(1, "maker")])["Update ORDER#maker"]
    assert alone["ConditionExpression"].startswith("#st IN (:cancelled, ")  # POST /cancel's state
    items = _items([_refused(1, "taker", "maker"), _user_cancel(2, "maker")])
    assert "ConditionCheck ORDER#maker" not in items  # one operation per item
    update = items["Update ORDER#maker"]
    assert update["ConditionExpression"] == "#st IN (:o0, :o1, :o2) AND #fq = :expected"
    assert "#cr = if_not_exists(#cr, :user)" in update["UpdateExpression"]


def test_a_witness_twice_is_checked_once() -> None:
    items = _items([_refused(1, "t1", "maker"), _refused(2, "t2", "maker")])
    assert [k for k in items if k.startswith("ConditionCheck")] == ["ConditionCheck ORDER#maker"]
