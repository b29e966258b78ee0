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


def build(tmp_path: Any, tail: list[tuple[Any, ...]] | None = None,
          after: list[tuple[Any, ...]] | None = None,
          compensate: Any = None) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The clean run: its history (every submit acked 201, one duplicate acked 200, the cancel
    acked 200) and its tables.

    With `tail`/`after`, the run forks after FLOW as a region failover forks it: the deposed
    leader's epoch 1 goes on with `tail` (off the canonical chain: the new leader never saw it),
    the new leader's epoch 2 continues FLOW's last seq with `after`; the tail's order writes
    land first, the new leader's later (last writer wins). `compensate(ids)` (ids: key -> order
    id, and "trade:<key>" -> the id of the trade that key's order took as taker) gives the
    Reconciled event's payload that the new leader's reconciliation appends (None: none)."""
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

    def command_of(index: int, step: tuple[Any, ...], record: bool) -> Any:
        if step[0] == "cancel":
            _, client, key = step
            order_id = by_key[key]
            if record:
                orders[order_id].update(status=_s("CANCELLED"), cancelReason=_s("user"))
                orders[order_id].pop("openSort", None)
                answer("cancel", client, None, {"orderId": order_id}, 200, order_id)
            return CancelOrder(order_id, client, index)
        client, key, side, qty, price, tif = step
        order_id = f"{index:032x}"
        if record:
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
        return PlaceOrder(order_id, client, side, price, qty, index, tif)

    def run(on: Any, steps: list[tuple[Any, ...]], first: int, epoch: int, record: bool) -> None:
        for index, step in enumerate(steps, start=first):
            result = on.apply(command_of(index, step, record))
            if not record:
                continue
            records = []
            for event in result.events:
                kind, payload = event_payload(event, epoch)
                records.append({"seq": event.seq, "type": kind, "ts": "t", "payload": payload})
                _apply(orders, kind, payload, event.seq)
                orders[payload.get("orderId") or payload["takerOrderId"]]["epoch"] = _n(epoch)
                if kind == "TradeExecuted":
                    tid = trade_id(SYMBOL, epoch, event.seq)
                    by_key[f"trade:{step[1]}"] = tid
                    trades.append({
                        "pk": _s(f"TRADE#{tid}"), "sk": _s(f"TRADE#{tid}"), "tradeId": _s(tid),
                        "symbol": _s(SYMBOL), "seq": _n(event.seq), "qty": _n(payload["qty"]),
                        "priceTicks": _n(event.price), "buyOrderId": _s(payload["buyOrderId"]),
                        "sellOrderId": _s(payload["sellOrderId"]), "epoch": _n(epoch)})
            if records:
                pages.extend(event_pages.page_items(SYMBOL, epoch, records))

    run(engine, FLOW, 0, EPOCH, True)
    epoch, last_seq, epochs = EPOCH, engine.last_seq, [(EPOCH, 0, 0)]
    if tail is not None or after is not None:
        fork = engine.last_seq
        deposed = make_engine("book", SYMBOL)  # the deposed leader's book: FLOW again
        run(deposed, FLOW, 0, EPOCH, False)
        run(deposed, tail or [], len(FLOW), EPOCH, True)
        run(engine, after or [], len(FLOW) + len(tail or []), EPOCH + 1, True)
        epoch, last_seq = EPOCH + 1, engine.last_seq
        epochs.append((epoch, EPOCH, fork))
        if compensate is not None:
            payload = {"findingKey": "divergent_commit:test", "kind": "divergent_commit",
                       "reason": "reconciled", "orderIds": [], "tradeIds": [], "cancels": [],
                       **compensate(by_key)}
            last_seq += 1
            pages.extend(event_pages.page_items(SYMBOL, epoch, [
                {"seq": last_seq, "type": "Reconciled", "ts": "t", "payload": payload}]))
            for order_id in payload["cancels"]:
                orders[order_id].update(status=_s("CANCELLED"), cancelReason=_s("reconciled"))
                orders[order_id].pop("openSort", None)
    history.close()
    idempotency = [{"pk": _s(f"IDEMP#{o['idempotencyKey']['S']}"),
                    "sk": _s(f"IDEMP#{o['idempotencyKey']['S']}"), "orderId": o["orderId"]}
                   for o in orders.values()]
    shard = {"pk": _s(f"SHARD#{SYMBOL}"), "sk": _s(f"SHARD#{SYMBOL}"),
             "lastSeq": _n(last_seq), "epoch": _n(epoch)}
    starts = [{"pk": _s(f"EPOCHS#{SYMBOL}"), "sk": _s(f"{e:012d}"), "epoch": _n(e),
               "parent": _n(parent), "startSeq": _n(start)} for e, parent, start in epochs]
    tables = {"orders": [*orders.values(), *idempotency],
              "trades": [*trades, *pages, shard, *starts]}
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


# ---------------------------------------------------------------------- across a region fork
# After FLOW the leader region is cut off: in its last seconds it makes a tail the new leader
# never sees (epoch 1, off the canonical chain): y1 takes a1's last 2 lots, x1 comes to rest.
# The new leader's epoch 2 continues FLOW's last seq: z1 takes the same 2 lots of a1 (its
# replica still had them). After the heal, reconciliation compensates the tail.
TAIL = [(BOB, "y1", "BUY", 2, 10_001, "GTC"), (ALICE, "x1", "SELL", 1, 10_005, "GTC")]
AFTER = [(BOB, "z1", "BUY", 2, 10_001, "GTC")]


def _everything(ids: dict[str, str]) -> dict[str, list[str]]:
    """What `reconcile --fix` appends for the tail: the divergent trade and every order it
    touched or left off the chain; x1, still open, cancelled."""
    return {"orderIds": [ids["y1"], ids["a1"], ids["x1"]], "tradeIds": [ids["trade:y1"]],
            "cancels": [ids["x1"]]}


def _forked(tmp_path: Any, compensate: Any) -> tuple[list[dict[str, Any]],
                                                      dict[str, list[dict[str, Any]]]]:
    return build(tmp_path, TAIL, AFTER, compensate)


def test_a_fork_compensated_by_a_reconciled_event_passes(tmp_path: Any) -> None:
    records, tables = _forked(tmp_path, _everything)
    report = run_checker(records, tables)
    assert report.violations == [], report.summary()
    # The fork is there: one off-chain epoch with y1's trade and x1's opening, compensated.
    assert (report.forks, report.off_chain_trades, report.reconciled_events) == (1, 1, 1)
    assert (report.compensated_orders, report.compensated_acked) == (1, 3)


def test_a_fork_nobody_reconciled_is_reported(tmp_path: Any) -> None:
    records, tables = _forked(tmp_path, None)
    report = run_checker(records, tables)
    kinds = report.by_kind()
    assert {"fork", "double_fill", "lost_ack"} <= set(kinds), report.summary()
    y1, x1 = _order(tables, "y1", BOB)["orderId"]["S"], _order(tables, "x1", ALICE)["orderId"]["S"]
    lost = " ".join(v.detail for v in report.violations if v.kind == "lost_ack")
    assert y1 in lost and x1 in lost, report.summary()


def test_an_acked_order_neither_on_the_chain_nor_compensated_is_lost(tmp_path: Any) -> None:
    # The compensation forgets x1: acknowledged, opened only on the deposed fork, still open.
    def all_but_x1(ids: dict[str, str]) -> dict[str, list[str]]:
        return {"orderIds": [ids["y1"], ids["a1"]], "tradeIds": [ids["trade:y1"]]}

    records, tables = _forked(tmp_path, all_but_x1)
    report = run_checker(records, tables)
    x1 = _order(tables, "x1", ALICE)["orderId"]["S"]
    lost = [v.detail for v in report.violations if v.kind == "lost_ack"]
    assert len(lost) == 1 and x1 in lost[0], report.summary()
    assert "neither on the canonical chain nor compensated" in lost[0]
    # ... and the book shows an order the canonical chain never opened.
    assert set(report.by_kind()) == {"lost_ack", "reference", "convergence"}, report.summary()


def test_a_double_fill_across_the_fork_is_reported(tmp_path: Any) -> None:
    # The compensation names the orders but not y1's trade: a1 (qty 5) then has 3 + 2 lots on
    # the canonical chain and 2 more on the deposed fork that nothing took back.
    def orders_only(ids: dict[str, str]) -> dict[str, list[str]]:
        return {"orderIds": [ids["y1"], ids["a1"], ids["x1"]], "cancels": [ids["x1"]]}

    records, tables = _forked(tmp_path, orders_only)
    report = run_checker(records, tables)
    assert set(report.by_kind()) == {"fork", "double_fill"}, report.summary()
    details = [v.detail for v in report.violations if v.kind == "double_fill"]
    assert details == [f"order {_order(tables, 'a1', ALICE)['orderId']['S']}: canonical trade "
                       "legs 5 + uncompensated off-chain legs 2 > qty 5"], report.summary()


def test_an_overfill_made_on_the_canonical_chain_across_epochs_is_reported(tmp_path: Any) -> None:
    # Compensated or not, the canonical chain itself must never overfill: z1's epoch-2 trade
    # stored for 3 lots of a1 (3 in epoch 1 + 3 > 5).
    records, tables = _forked(tmp_path, _everything)
    tables = copy.deepcopy(tables)
    z1 = _order(tables, "z1", BOB)["orderId"]["S"]
    trade = next(t for t in tables["trades"] if t["pk"]["S"].startswith("TRADE#")
                 and t["buyOrderId"]["S"] == z1)
    trade["qty"] = {"N": "3"}
    report = run_checker(records, tables)
    details = [v.detail for v in report.violations if v.kind == "double_fill"]
    a1 = _order(tables, "a1", ALICE)["orderId"]["S"]
    assert f"order {a1}: trade legs 6 > qty 5" in details, report.summary()


def test_a_reconciled_event_off_the_chain_compensates_nothing(tmp_path: Any) -> None:
    # The same Reconciled event, but committed by the deposed epoch after its tail (off the
    # chain): it is not the canonical history's, so it compensates nothing.
    records, tables = _forked(tmp_path, _everything)
    tables = copy.deepcopy(tables)
    page = next(t for t in tables["trades"] if t["pk"]["S"] == f"EVENTS#{SYMBOL}"
                and '"Reconciled"' in t["events"]["S"])
    event = event_pages.decode_item(page)[0]
    tables["trades"].remove(page)
    shard = next(t for t in tables["trades"] if t["pk"]["S"] == f"SHARD#{SYMBOL}")
    shard["lastSeq"] = {"N": str(event["seq"] - 1)}
    tables["trades"] += event_pages.page_items(SYMBOL, EPOCH, [
        {"seq": event["seq"] + 1, "type": "Reconciled", "ts": "t", "payload": event["payload"]}])
    clean = run_checker(records, _forked(tmp_path / "again", _everything)[1])
    assert clean.violations == [], clean.summary()
    report = run_checker(records, tables)
    assert set(report.by_kind()) == {"fork", "lost_ack", "double_fill"}, \
        report.summary()
    assert report.reconciled_events == 0


def _cancel_answered(records: list[dict[str, Any]], order_id: str, status: int,
                     code: str) -> list[dict[str, Any]]:
    return [*records,
            {"n": 1000, "t": 9.0, "kind": "request", "id": 1000, "op": "cancel", "client": ALICE,
             "key": None, "attempt": 1, "body": {"orderId": order_id}, "region": "us-west-2"},
            {"n": 1001, "t": 9.1, "kind": "response", "id": 1000, "status": status,
             "body": {"error": {"code": code, "details": {"orderId": order_id}}}}]


def test_not_found_is_an_answer_only_for_an_order_of_the_deposed_fork(tmp_path: Any) -> None:
    # x1 lived on the deposed leader's side only: the new leader answers its cancel 404
    # not_found, which the compensation then accounts for. z1 is the canonical chain's: the same
    # answer for it is a violation.
    records, tables = _forked(tmp_path, _everything)
    x1 = _order(tables, "x1", ALICE)["orderId"]["S"]
    z1 = _order(tables, "z1", BOB)["orderId"]["S"]
    report = run_checker(_cancel_answered(records, x1, 404, "not_found"), tables)
    assert report.violations == [], report.summary()
    report = run_checker(_cancel_answered(records, z1, 404, "not_found"), tables)
    assert [v.kind for v in report.violations] == ["answers"], report.summary()


def _acked_cancel(records: list[dict[str, Any]], order_id: str) -> list[dict[str, Any]]:
    return [*records,
            {"n": 1000, "t": 9.0, "kind": "request", "id": 1000, "op": "cancel", "client": BOB,
             "key": None, "attempt": 1, "body": {"orderId": order_id}},
            {"n": 1001, "t": 9.1, "kind": "response", "id": 1000, "status": 200,
             "body": {"orderId": order_id, "status": "CANCELLED"}}]


def test_a_cancel_acknowledged_on_the_deposed_fork_then_undone_is_reported(tmp_path: Any) -> None:
    # The region chaos run's lost cancel: the cut-off leader answered 200 to the cancel of an
    # order the new leader kept open (last writer wins: its later write took the order back).
    records, tables = _forked(tmp_path, _everything)
    z1 = _order(tables, "z1", BOB)["orderId"]["S"]
    report = run_checker(_acked_cancel(records, z1), tables)
    assert [v.detail for v in report.violations] == [
        f"cancel of {z1} answered 200 but the order is FILLED"], report.summary()


def test_a_deposed_leaders_cancel_a_reconciled_event_names_is_accounted_for(
        tmp_path: Any) -> None:
    # The same answer, once reconciliation named the order (the deposed fork's OrderCancelled,
    # or the cancel's record: ops/checks.py): the Reconciled event records what became of it.
    def naming_z1(ids: dict[str, str]) -> dict[str, list[str]]:
        named = _everything(ids)
        return {**named, "orderIds": [*named["orderIds"], ids["z1"]]}

    records, tables = _forked(tmp_path, naming_z1)
    z1 = _order(tables, "z1", BOB)["orderId"]["S"]
    report = run_checker(_acked_cancel(records, z1), tables)
    assert "answers" not in report.by_kind(), report.summary()


def test_a_live_order_cancelled_for_a_mismatch_the_ledger_does_not_show_is_reported(
        tmp_path: Any) -> None:
    # reconcile --fix under load read an order before its trades (a filledQty that looked
    # behind them) and cancelled the order: the quiet ledger shows no mismatch at all.
    def torn_read(ids: dict[str, str]) -> dict[str, Any]:
        return {**_everything(ids), "kind": "filled_qty_mismatch",
                "findingKey": f"filled_qty_mismatch:{ids['x1']}:1:0"}

    records, tables = _forked(tmp_path, torn_read)
    report = run_checker(records, tables)
    x1 = _order(tables, "x1", ALICE)["orderId"]["S"]
    assert [v.kind for v in report.violations] == ["compensation"], report.summary()
    assert x1 in report.violations[0].detail
