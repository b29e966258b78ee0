"""The chaos checker must be able to fail: a small clean ledger (made by the real engine, stored in
the shapes the matcher writes) passes, and each doctored copy of it is reported with the right
kind: a lost acknowledgement, a duplicated idempotency key, an overfill, a seq gap, a book that
disagrees with the reference replay, a REST book that never converges."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from matching.engine import CancelOrder, PlaceOrder, make_engine
from matching.services import event_payload
from orders.domain import idempotency_hash
from tests.chaos import checker
from tests.chaos.history import History, load
from tulip import event_pages
from tulip.schema import resting_sort_key, trade_id

SYMBOL = "CHK"
EPOCH = 1
ENV = {"ORDERS_TABLE": "orders", "TRADES_TABLE": "trades",
       "EVENTS_FIFO_URL": "http://queues/events-{symbol}.fifo"}
ALICE, BOB = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"
# (client, key, side, qty, price ticks, tif); ("cancel", client, key) cancels that key's order.
FLOW: list[tuple[Any, ...]] = [
    (ALICE, "a1", "SELL", 5, 10_001, "GTC"),
    (BOB, "b1", "BUY", 3, 10_002, "GTC"),  # trades 3 with a1 at 100.01
    (BOB, "b2", "BUY", 4, 9_999, "GTC"),  # rests
    (ALICE, "a2", "SELL", 2, 9_999, "IOC"),  # trades 2 with b2
    ("cancel", BOB, "b2"),  # b2's remaining 2 cancelled by its owner
    (ALICE, "a3", "BUY", 1, 10_001, "FOK"),  # own a1 crosses first: self-trade prevention
]


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def build(tmp_path: Any) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The clean run: its history (every submit acked 201, one duplicate acked 200, the cancel
    acked 200) and its tables."""
    engine = make_engine("book", SYMBOL)
    history = History(tmp_path / "history.jsonl")
    orders: dict[str, dict[str, Any]] = {}
    by_key: dict[str, str] = {}
    trades: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []

    def answer(op: str, client: str, key: str | None, body: dict[str, Any], status: int,
               order_id: str) -> None:
        attempt = history.new_id()
        history.request(id=attempt, actor=client[-1], client=client, op=op, key=key, attempt=1,
                        body=body)
        history.response(id=attempt, status=status, body={"orderId": order_id}, ms=1.0)

    for index, step in enumerate(FLOW):
        if step[0] == "cancel":
            _, client, key = step
            order_id = by_key[key]
            command: Any = CancelOrder(order_id, client, index)
            orders[order_id].update(status=_s("CANCELLED"), cancelReason=_s("user"))
            orders[order_id].pop("openSort", None)
            answer("cancel", client, None, {"orderId": order_id}, 200, order_id)
        else:
            client, key, side, qty, price, tif = step
            order_id = f"{index:032x}"
            by_key[key] = order_id
            orders[order_id] = {
                "pk": _s(f"ORDER#{order_id}"), "sk": _s(f"ORDER#{order_id}"),
                "orderId": _s(order_id), "clientId": _s(client), "symbol": _s(SYMBOL),
                "side": _s(side), "qty": _n(qty), "priceTicks": _n(price),
                "timeInForce": _s(tif), "idempotencyKey": _s(idempotency_hash(client, key)),
                "status": _s("ACCEPTED"), "filledQty": _n(0), "filledNotionalTicks": _n(0)}
            body = {"symbol": SYMBOL, "side": side, "qty": qty, "price": f"{price / 100:.2f}",
                    "timeInForce": tif, "idempotencyKey": key}
            answer("order", client, key, body, 201, order_id)
            if key == "b1":  # a duplicate send: the same key again, answered with the same order
                answer("order", client, key, body, 200, order_id)
            command = PlaceOrder(order_id, client, side, price, qty, index, tif)
        result = engine.apply(command)
        records = []
        for event in result.events:
            kind, payload = event_payload(event, EPOCH)
            records.append({"seq": event.seq, "type": kind, "ts": "t", "payload": payload})
            _apply(orders, kind, payload, event.seq)
            if kind == "TradeExecuted":
                tid = trade_id(SYMBOL, EPOCH, event.seq)
                trades.append({
                    "pk": _s(f"TRADE#{tid}"), "sk": _s(f"TRADE#{tid}"), "tradeId": _s(tid),
                    "symbol": _s(SYMBOL), "seq": _n(event.seq), "qty": _n(payload["qty"]),
                    "priceTicks": _n(event.price), "buyOrderId": _s(payload["buyOrderId"]),
                    "sellOrderId": _s(payload["sellOrderId"])})
        if records:
            pages += event_pages.page_items(SYMBOL, EPOCH, records)
    history.close()
    idempotency = [{"pk": _s(f"IDEMP#{o['idempotencyKey']['S']}"),
                    "sk": _s(f"IDEMP#{o['idempotencyKey']['S']}"), "orderId": o["orderId"]}
                   for o in orders.values()]
    shard = {"pk": _s(f"SHARD#{SYMBOL}"), "sk": _s(f"SHARD#{SYMBOL}"),
             "lastSeq": _n(engine.last_seq), "epoch": _n(EPOCH)}
    tables = {"orders": [*orders.values(), *idempotency], "trades": [*trades, *pages, shard]}
    return load(history.path), tables


def _apply(orders: dict[str, dict[str, Any]], kind: str, payload: dict[str, Any], seq: int) -> None:
    """An event's effect on the stored orders, as the matcher's commit writes it."""
    if kind == "TradeExecuted":
        price = round(float(payload["price"]) * 100)
        for role in ("maker", "taker"):
            order = orders[payload[f"{role}OrderId"]]
            left = payload[f"{role}Remaining"]
            order["filledQty"] = _n(payload[f"{role}Filled"])
            notional = int(order["filledNotionalTicks"]["N"]) + price * payload["qty"]
            order["filledNotionalTicks"] = _n(notional)
            order["status"] = _s("FILLED" if left == 0 else "PARTIALLY_FILLED")
            if left == 0:
                order.pop("openSort", None)
    elif kind == "OrderOpened":
        order = orders[payload["orderId"]]
        order["status"] = _s("OPEN" if payload["filled"] == 0 else "PARTIALLY_FILLED")
        order["openSort"] = _s(resting_sort_key(seq))
    elif kind == "OrderCancelled" and payload["reason"] != "user":
        order = orders[payload["orderId"]]
        order.update(status=_s("CANCELLED"), cancelReason=_s(payload["reason"]))
        order.pop("openSort", None)


def rest_book(tables: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """GET /book as the stored open orders give it."""
    levels: dict[str, dict[int, list[int]]] = {"BUY": {}, "SELL": {}}
    last = 0
    for item in tables["trades"]:
        if item["pk"]["S"] == f"SHARD#{SYMBOL}":
            last = int(item["lastSeq"]["N"])
    for o in tables["orders"]:
        if "openSort" in o:
            level = levels[o["side"]["S"]].setdefault(int(o["priceTicks"]["N"]), [0, 0])
            level[0] += int(o["qty"]["N"]) - int(o["filledQty"]["N"])
            level[1] += 1
    return {"symbol": SYMBOL, "seq": last,
            "bids": [{"price": f"{p / 100:.2f}", "qty": q, "orders": c}
                     for p, (q, c) in sorted(levels["BUY"].items(), reverse=True)],
            "asks": [{"price": f"{p / 100:.2f}", "qty": q, "orders": c}
                     for p, (q, c) in sorted(levels["SELL"].items())]}


def run_checker(records: list[dict[str, Any]], tables: dict[str, list[dict[str, Any]]],
                book: dict[str, Any] | None = None) -> checker.Report:
    return checker.check(records, checker.Offline(ENV, tables), [SYMBOL],
                         lambda _symbol: book or rest_book(tables), 0.0)


@pytest.fixture
def clean(tmp_path: Any) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    return build(tmp_path)


def _order(tables: dict[str, list[dict[str, Any]]], key: str, client: str) -> dict[str, Any]:
    ik = idempotency_hash(client, key)
    return next(o for o in tables["orders"]
                if o["pk"]["S"].startswith("ORDER#") and o["idempotencyKey"]["S"] == ik)


def test_the_clean_ledger_passes_every_check(clean: Any) -> None:
    records, tables = clean
    report = run_checker(records, tables)
    assert report.violations == [], report.summary()
    # The flow exercised what the doctored copies break: trades, a resting order, a cancel, a
    # duplicate send, self-trade prevention.
    assert (report.orders_acked, report.trades, report.cancels_acked, report.commands) == (5, 2, 1, 6)


def test_a_lost_acknowledgement_is_reported(clean: Any, tmp_path: Any) -> None:
    records, tables = clean
    # The client was told 201 for an order the Orders table does not hold.
    history = History(tmp_path / "more.jsonl")
    history.request(id=999, actor="a", client=ALICE, op="order", key="a9", attempt=1,
                    body={"symbol": SYMBOL, "side": "BUY", "qty": 1, "price": "99.00",
                          "timeInForce": "GTC", "idempotencyKey": "a9"})
    history.response(id=999, status=201, body={"orderId": "f" * 32}, ms=1.0)
    history.close()
    report = run_checker(records + load(history.path), tables)
    assert [v.kind for v in report.violations] == ["lost_ack"], report.summary()
    assert "f" * 32 in report.violations[0].detail


def test_an_acknowledged_order_never_matched_is_reported(clean: Any) -> None:
    records, tables = clean
    tables = copy.deepcopy(tables)
    order = _order(tables, "a3", ALICE)
    order["status"] = {"S": "ACCEPTED"}
    report = run_checker(records, tables)
    assert "lost_ack" in report.by_kind(), report.summary()
    assert any("never matched" in v.detail for v in report.violations)


def test_a_duplicated_idempotency_key_is_reported(clean: Any) -> None:
    records, tables = clean
    tables = copy.deepcopy(tables)
    twin = copy.deepcopy(_order(tables, "b1", BOB))
    twin_id = "e" * 32
    twin.update(pk={"S": f"ORDER#{twin_id}"}, sk={"S": f"ORDER#{twin_id}"},
                orderId={"S": twin_id}, status={"S": "CANCELLED"}, filledQty={"N": "0"},
                filledNotionalTicks={"N": "0"}, cancelReason={"S": "user"})
    tables["orders"].append(twin)
    report = run_checker(records, tables)
    assert set(report.by_kind()) == {"idempotency"}, report.summary()
    assert any("2 orders stored for one idempotency key" in v.detail for v in report.violations)


def test_one_key_acknowledged_as_two_orders_is_reported(clean: Any) -> None:
    records, tables = clean
    records = copy.deepcopy(records)
    duplicate = next(r for r in records if r["kind"] == "response" and r["status"] == 200
                     and "orderId" in r["body"])
    duplicate["body"]["orderId"] = "d" * 32
    duplicate["status"] = 201
    report = run_checker(records, tables)
    details = [v.detail for v in report.violations if v.kind == "idempotency"]
    assert any("acknowledged as 2 orders" in d for d in details), report.summary()
    assert any("answered 201 (created) 2 times" in d for d in details), report.summary()


def test_an_overfill_is_reported(clean: Any) -> None:
    records, tables = clean
    tables = copy.deepcopy(tables)
    # A second trade leg on a1 (qty 5, 3 filled) for 3 more lots: 6 > 5.
    trade = copy.deepcopy(next(t for t in tables["trades"] if t["pk"]["S"].startswith("TRADE#")))
    trade.update(pk={"S": "TRADE#again"}, sk={"S": "TRADE#again"}, tradeId={"S": "again"})
    tables["trades"].append(trade)
    report = run_checker(records, tables)
    details = [v.detail for v in report.violations if v.kind == "double_fill"]
    assert any("trade legs 6 > qty 5" in d for d in details), report.summary()
    assert "ledger" in report.by_kind()  # tests/support/ledger.py's assert_ledger agrees


def test_filled_qty_beyond_the_trades_is_reported(clean: Any) -> None:
    records, tables = clean
    tables = copy.deepcopy(tables)
    _order(tables, "a1", ALICE)["filledQty"] = {"N": "6"}
    report = run_checker(records, tables)
    details = [v.detail for v in report.violations if v.kind == "double_fill"]
    assert any("filledQty 6 > qty 5" in d for d in details), report.summary()
    assert any("trade legs 3 != filledQty 6" in d for d in details), report.summary()


def test_a_seq_gap_is_reported(clean: Any) -> None:
    records, tables = clean
    tables = copy.deepcopy(tables)
    # The page holding the resting order's OrderOpened goes missing: seqs 1..N with a hole.
    pages = [t for t in tables["trades"] if t["pk"]["S"] == f"EVENTS#{SYMBOL}"]
    hole = next(p for p in pages if '"OrderOpened"' in p["events"]["S"]
                and int(p["firstSeq"]["N"]) > 1)
    tables["trades"].remove(hole)
    report = run_checker(records, tables)
    gaps = [v.detail for v in report.violations if v.kind == "seq_gap"]
    assert gaps and f"missing [{hole['firstSeq']['N']}" in gaps[0], report.summary()
    assert "ledger" in report.by_kind()


def test_a_shard_ahead_of_its_events_is_a_gap(clean: Any) -> None:
    records, tables = clean
    tables = copy.deepcopy(tables)
    shard = next(t for t in tables["trades"] if t["pk"]["S"] == f"SHARD#{SYMBOL}")
    shard["lastSeq"] = {"N": str(int(shard["lastSeq"]["N"]) + 1)}
    report = run_checker(records, tables)
    assert "seq_gap" in report.by_kind(), report.summary()


def test_fills_other_than_the_reference_replay_are_reported(clean: Any) -> None:
    records, tables = clean
    tables = copy.deepcopy(tables)
    # The IOC a2 stored as trading at 100.00 instead of the resting b2's 99.99 (ledger-consistent
    # otherwise: only the reference knows the price is wrong).
    page = next(t for t in tables["trades"] if t["pk"]["S"] == f"EVENTS#{SYMBOL}"
                and '"takerOrderId":"' + _order(tables, "a2", ALICE)["orderId"]["S"] in t["events"]["S"])
    page["events"] = {"S": page["events"]["S"].replace('"price":"99.99"', '"price":"100.00"')}
    report = run_checker(records, tables)
    assert "reference" in report.by_kind(), report.summary()


def test_a_book_that_does_not_converge_is_reported(clean: Any) -> None:
    records, tables = clean
    stale = rest_book(tables)
    stale["bids"] = [{"price": "99.99", "qty": 2, "orders": 1}]  # the cancelled b2 still shown
    report = run_checker(records, tables, book=stale)
    assert [v.kind for v in report.violations] == ["convergence"], report.summary()


def test_a_cancel_answered_200_for_an_order_still_open_is_reported(clean: Any) -> None:
    records, tables = clean
    records = copy.deepcopy(records)
    a1 = _order(tables, "a1", ALICE)["orderId"]["S"]
    records.append({"n": 1000, "t": 9.0, "kind": "request", "id": 1000, "op": "cancel",
                    "client": ALICE, "key": None, "attempt": 1, "body": {"orderId": a1}})
    records.append({"n": 1001, "t": 9.1, "kind": "response", "id": 1000, "status": 200,
                    "body": {"orderId": a1}})
    report = run_checker(records, tables)
    assert [v.kind for v in report.violations] == ["answers"], report.summary()
