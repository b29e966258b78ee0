"""The pipeline end to end: HTTP -> DynamoDB -> SQS FIFO -> matcher (Celery worker) -> DynamoDB,
checked through the public API and against the ledger invariants after every test."""

from __future__ import annotations

import json
import time
import uuid

from tests.support.ledger import assert_ledger, events, orders, wait_until_matched
from tests.support.ledger import trades as ledger_trades
from tests.support.stack import StackHandle
from tests.support.trading import Trader


def test_cross_partial_fill_and_ioc_remainder(stack: StackHandle) -> None:
    alice, bob = Trader(stack, "alice"), Trader(stack, "bob")
    maker = alice.place("MA", "SELL", 5, "100.00")
    taker = bob.place("MA", "BUY", 3, "101.00")
    wait_until_matched(stack, [maker["orderId"], taker["orderId"]])
    assert alice.order(maker["orderId"])["status"] == "PARTIALLY_FILLED"
    assert alice.order(maker["orderId"])["filledQty"] == 3
    bought = bob.order(taker["orderId"])
    assert (bought["status"], bought["filledQty"], bought["avgFillPrice"]) == ("FILLED", 3, "100.00")

    ioc = bob.place("MA", "BUY", 5, "100.00", tif="IOC")
    wait_until_matched(stack, [ioc["orderId"]])
    ioc_now = bob.order(ioc["orderId"])
    assert (ioc_now["status"], ioc_now["filledQty"]) == ("CANCELLED", 2)
    assert alice.order(maker["orderId"])["status"] == "FILLED"
    trades = bob.http.get("/trades?symbol=MA").json()["items"]
    assert [t["price"] for t in trades] == ["100.00", "100.00"]  # the resting order's price
    assert [t["qty"] for t in trades] == [2, 3]  # newest first
    fills = bob.http.get("/fills?symbol=MA").json()["items"]
    assert {f["liquidity"] for f in fills} == {"taker"}
    # The zone each write happened in, from configuration (the local stack names one).
    zone = stack.env["AVAILABILITY_ZONE"]
    assert orders(stack, "MA")[maker["orderId"]]["acceptedAz"]["S"] == zone
    assert {t["fillAz"]["S"] for t in ledger_trades(stack, "MA")} == {zone}
    assert_ledger(stack, "MA")


def test_price_time_priority_across_three_makers(stack: StackHandle) -> None:
    makers = [Trader(stack, f"maker{i}") for i in range(3)]
    placed = [m.place("MB", "SELL", 2, "50.00") for m in makers]
    taker = Trader(stack, "taker")
    better = makers[0].place("MB", "SELL", 1, "49.99")  # better price, later: fills first
    order = taker.place("MB", "BUY", 6, "50.00")
    wait_until_matched(stack, [o["orderId"] for o in [*placed, better, order]])
    trades = sorted(taker.http.get("/trades?symbol=MB").json()["items"], key=lambda t: t["seq"])
    assert [(t["price"], t["qty"]) for t in trades] == [("49.99", 1), ("50.00", 2), ("50.00", 2),
                                                        ("50.00", 1)]
    states = [m.order(p["orderId"]) for m, p in zip(makers, placed, strict=True)]
    assert [(s["status"], s["filledQty"]) for s in states] == [
        ("FILLED", 2), ("FILLED", 2), ("PARTIALLY_FILLED", 1)]
    book = taker.http.get("/book?symbol=MB").json()
    assert book["asks"] == [{"price": "50.00", "qty": 1, "orders": 1}]
    assert book["bids"] == []
    assert_ledger(stack, "MB")


def test_duplicate_deliveries_change_nothing(stack: StackHandle) -> None:
    alice, bob = Trader(stack), Trader(stack)
    maker = alice.place("MC", "SELL", 4, "10.00")
    taker = bob.place("MC", "BUY", 4, "10.00")
    wait_until_matched(stack, [maker["orderId"], taker["orderId"]])
    before = len(events(stack, "MC"))
    sqs = stack.boto("sqs")
    for order in (maker, taker):
        body = {"schemaVersion": 1, "type": "OrderAccepted", "orderId": order["orderId"],
                "clientId": order["clientId"], "symbol": "MC", "side": order["side"],
                "qty": order["qty"], "price": order["price"], "timeInForce": "GTC",
                "postOnly": False, "idempotencyKey": "x", "acceptedAt": order["acceptedAt"]}
        sqs.send_message(QueueUrl=stack.queue_url("MC"), MessageBody=json.dumps(body),
                         MessageGroupId="market-MC", MessageDeduplicationId=uuid.uuid4().hex)
    # A marker order behind the duplicates: once it is matched, the duplicates were consumed.
    marker = alice.place("MC", "SELL", 1, "99.00")
    wait_until_matched(stack, [marker["orderId"]])
    assert len(events(stack, "MC")) == before + 1  # only the marker's OrderOpened
    assert alice.order(maker["orderId"])["filledQty"] == 4
    assert bob.order(taker["orderId"])["filledQty"] == 4
    assert_ledger(stack, "MC")


def test_cancel_racing_a_fill_stays_consistent(stack: StackHandle) -> None:
    from concurrent.futures import ThreadPoolExecutor

    maker, taker = Trader(stack), Trader(stack)
    outcomes = []
    for _ in range(6):
        resting = maker.place("MD", "SELL", 10, "20.00")
        wait_until_matched(stack, [resting["orderId"]])
        with ThreadPoolExecutor(2) as pool:
            cancel = pool.submit(maker.cancel, resting["orderId"])
            buy = pool.submit(taker.place, "MD", "BUY", 10, "20.00", "IOC")
            cancel_response, bought = cancel.result(), buy.result()
        wait_until_matched(stack, [bought["orderId"]])
        final_maker = maker.order(resting["orderId"])
        final_taker = taker.order(bought["orderId"])
        if cancel_response.status_code == 200:  # the cancel committed first
            assert final_maker["status"] == "CANCELLED"
            assert final_maker["filledQty"] == final_taker["filledQty"] == 0
            assert final_taker["status"] == "CANCELLED"
        else:  # the fill committed first
            assert cancel_response.status_code == 404
            assert cancel_response.json()["error"]["code"] == "not_open"
            assert final_maker["status"] == "FILLED" and final_taker["filledQty"] == 10
        outcomes.append(cancel_response.status_code)
    assert_ledger(stack, "MD")


def test_poison_message_is_dead_lettered_and_the_group_flows_on(stack: StackHandle) -> None:
    sqs = stack.boto("sqs")
    sqs.send_message(QueueUrl=stack.queue_url("ME"), MessageBody="{definitely not json",
                     MessageGroupId="market-ME", MessageDeduplicationId=uuid.uuid4().hex)
    sqs.send_message(QueueUrl=stack.queue_url("ME"),
                     MessageBody=json.dumps({"schemaVersion": 99, "type": "OrderAccepted"}),
                     MessageGroupId="market-ME", MessageDeduplicationId=uuid.uuid4().hex)
    after = Trader(stack).place("ME", "BUY", 1, "1.00")
    wait_until_matched(stack, [after["orderId"]], timeout=90)
    dead: list[str] = []
    deadline = time.monotonic() + 30
    while len(dead) < 2 and time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=stack.env["EVENTS_DLQ_URL"],
                                       MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in response.get("Messages", []):
            dead.append(message["Body"])
            sqs.delete_message(QueueUrl=stack.env["EVENTS_DLQ_URL"],
                               ReceiptHandle=message["ReceiptHandle"])
    assert sorted(dead) == sorted(["{definitely not json",
                                   json.dumps({"schemaVersion": 99, "type": "OrderAccepted"})])
    assert orders(stack, "ME")[after["orderId"]]["status"]["S"] == "OPEN"
    assert_ledger(stack, "ME")


def test_restart_rebuilds_the_same_book(stack: StackHandle) -> None:
    trader = Trader(stack)
    placed = [trader.place("MF", side, qty, price) for side, qty, price in [
        ("BUY", 3, "9.00"), ("BUY", 2, "9.00"), ("BUY", 1, "8.50"), ("SELL", 4, "9.50")]]
    wait_until_matched(stack, [p["orderId"] for p in placed])
    partial = Trader(stack).place("MF", "SELL", 4, "9.00")  # leaves the 9.00 bid level partial
    wait_until_matched(stack, [partial["orderId"]])
    log_path = stack.stack.children["matcher-1"].log_path
    stack.stack.stop_child("matcher-1")
    stack.stack.start_matcher()
    lines = [json.loads(line) for line in log_path.read_text().splitlines()
             if line.startswith("{") and '"stateHash"' in line and '"MF"' in line]
    stopped = [line for line in lines if line["msg"] == "matcher stopped"][-1]
    started = [line for line in lines if line["msg"] == "matcher leads shard"][-1]
    assert started["stateHash"] == stopped["stateHash"]
    assert started["seq"] == stopped["seq"]
    later = Trader(stack).place("MF", "SELL", 1, "8.00")  # not the bids' owner: no self-trade
    wait_until_matched(stack, [later["orderId"]])
    assert trader.order(placed[1]["orderId"])["status"] == "FILLED"  # its last lot traded here
    assert_ledger(stack, "MF")
