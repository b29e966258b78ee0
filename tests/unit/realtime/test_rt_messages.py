"""messages_for_events: the one mapping from stored events to the WebSocket messages of docs/api.md."""

from __future__ import annotations

import json
from typing import Any

from realtime.messages import group_for, messages_for_events, public_event

TS = "2026-01-01T00:00:00.000Z"


def ev(seq: int, kind: str, payload: dict[str, Any], l2: dict[str, Any] | None = None) -> dict[str, Any]:
    body = dict(payload, **({"l2": l2} if l2 is not None else {}))
    return {"seq": seq, "symbol": "S", "type": kind, "ts": TS, "payload": json.dumps(body)}


def trade(seq: int, l2: dict[str, Any] | None = None, maker_left: int = 0) -> dict[str, Any]:
    return ev(seq, "TradeExecuted", {
        "tradeId": f"S-{seq:012d}", "price": "10.00", "qty": 2, "takerSide": "BUY",
        "makerOrderId": "m", "makerClientId": "alice", "makerRemaining": maker_left,
        "makerFilled": 2, "takerOrderId": "t", "takerClientId": "bob", "takerRemaining": 0,
        "takerFilled": 2}, l2)


def test_a_sweeping_command_gives_trades_then_one_book_delta() -> None:
    events = [trade(5), trade(6), ev(7, "OrderOpened", {
        "orderId": "t2", "clientId": "bob", "side": "BUY", "price": "10.00", "qty": 5,
        "remaining": 1, "filled": 4}, {"bids": [["10.00", 1, 1]], "asks": [["10.00", 0, 0]]})]
    messages = messages_for_events("S", events, {"trades:S": 2})
    trades = [m for m in messages if m["type"] == "trade"]
    assert [(m["seq"], m["prevSeq"]) for m in trades] == [(5, 2), (6, 5)]
    assert trades[0] == {"type": "trade", "topic": "trades:S", "seq": 5, "prevSeq": 2,
                         "tradeId": "S-000000000005", "price": "10.00", "qty": 2,
                         "takerSide": "BUY", "ts": TS}
    [book] = [m for m in messages if m["type"] == "book"]
    assert book == {"type": "book", "topic": "book:S", "seq": 7, "prevSeq": 4,
                    "bids": [{"price": "10.00", "qty": 1, "orders": 1}],
                    "asks": [{"price": "10.00", "qty": 0, "orders": 0}]}
    assert messages[-1] is book


def test_book_chain_is_gap_free_across_calls_without_state() -> None:
    first = messages_for_events("S", [trade(1, {"bids": [], "asks": []})])
    second = messages_for_events("S", [trade(2), trade(3, {"bids": [], "asks": []})])
    books = [m for m in first + second if m["type"] == "book"]
    assert [(m["prevSeq"], m["seq"]) for m in books] == [(0, 1), (1, 3)]


def test_trade_prev_seq_unknown_without_state_and_seeded_with_it() -> None:
    assert messages_for_events("S", [trade(9, {})])[0]["prevSeq"] is None
    seeds = {"trades:S": 4}
    messages_for_events("S", [trade(9, {})], seeds)
    assert seeds == {"trades:S": 9}


def test_order_status_per_owner_and_groups() -> None:
    messages = messages_for_events("S", [trade(3, {}, maker_left=1)])
    statuses = {m["order"]["clientId"]: m for m in messages if m["type"] == "orderStatus"}
    assert statuses["alice"]["order"]["status"] == "PARTIALLY_FILLED"
    assert statuses["alice"]["order"]["side"] == "SELL" and statuses["alice"]["order"]["qty"] == 3
    assert statuses["bob"]["order"]["status"] == "FILLED"
    assert {group_for(m) for m in messages} == {"trades.S", "book.S", "orders.alice", "orders.bob"}


def test_cancel_and_reject_and_cancel_rejected() -> None:
    messages = messages_for_events("S", [
        ev(1, "OrderCancelled", {"orderId": "o", "clientId": "c", "reason": "user",
                                 "remaining": 3, "filled": 1}, {"bids": [["1.00", 0, 0]], "asks": []}),
        ev(2, "OrderRejected", {"orderId": "p", "clientId": "c", "reason": "post_only"}, {}),
        ev(3, "CancelRejected", {"orderId": "q", "clientId": "c", "reason": "unknown"}, {})])
    statuses = [m["order"] for m in messages if m["type"] == "orderStatus"]
    assert [(o["orderId"], o["status"], o.get("cancelReason")) for o in statuses] == [
        ("o", "CANCELLED", "user"), ("p", "CANCELLED", "rejected:post_only")]
    assert [m["seq"] for m in messages if m["type"] == "book"] == [1, 2, 3]


def test_public_event_strips_client_ids() -> None:
    item = public_event(trade(3, {}))
    assert item["seq"] == 3 and item["type"] == "TradeExecuted" and item["symbol"] == "S"
    assert not {"makerClientId", "takerClientId", "clientId"} & set(item)
    assert item["makerOrderId"] == "m"
    assert "epoch" not in item  # an event read without its page's epoch does not invent one


def test_public_event_carries_the_epoch_that_committed_it() -> None:
    assert public_event(dict(trade(3, {}), epoch=2_000_001))["epoch"] == 2_000_001


def test_importable_without_django() -> None:
    import subprocess
    import sys

    code = "import sys, realtime.messages as m; assert 'django' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
