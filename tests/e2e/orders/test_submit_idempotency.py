"""POST /order: durable before ack, and idempotent under concurrency and replays (docs/rules.md).
Concurrent accepts share their AWS calls (orders/storage.py, tulip/events_queue.py: group commit)
and each still gets its own exact answer."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.orders import (
    drain_queue,
    idempotency_items,
    new_client,
    order_body,
    order_items_of,
    set_order_fields,
)
from tests.support.stack import StackHandle

NEW = 30  # new orders in the group-commit test's burst


def test_new_order_is_201_durable_and_queued(entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    body = order_body(price=101.5)
    with entry_stack.http(token) as http:
        response = http.post("/order", json=body)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "ACCEPTED"
    assert order["clientId"] == client_id
    assert order["price"] == "101.50"  # a JSON number is read as written, shown as a string
    assert order["filledQty"] == 0 and order["avgFillPrice"] is None
    assert set(order) == {"orderId", "clientId", "symbol", "side", "qty", "price", "timeInForce",
                          "postOnly", "selfTradePrevention", "status", "filledQty",
                          "avgFillPrice", "createdAt", "acceptedAt", "updatedAt", "region", "seq"}
    # Durable: the item is in DynamoDB by the time the client hears 201.
    [item] = order_items_of(entry_stack, client_id)
    assert item["status"]["S"] == "ACCEPTED"
    queued = [m for m in drain_queue(entry_stack) if m["orderId"] == order["orderId"]]
    assert len(queued) == 1
    message = queued[0]
    assert message["schemaVersion"] == 1 and message["type"] == "OrderAccepted"
    assert message["_group"] == "market-TULIP"
    assert message["price"] == "101.50" and message["qty"] == 10


def test_fifty_concurrent_identical_submits_make_one_order(entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    body = order_body()
    drain_queue(entry_stack, wait_s=0.2)

    def submit(_: int) -> tuple[int, str]:
        with entry_stack.http(token, timeout=60) as http:
            response = http.post("/order", json=body)
        return response.status_code, response.json().get("orderId", response.text)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(submit, range(50)))
    statuses = sorted(status for status, _ in results)
    order_ids = {order_id for _, order_id in results}
    assert statuses == [200] * 49 + [201], results
    assert len(order_ids) == 1
    assert len(order_items_of(entry_stack, client_id)) == 1
    assert len(idempotency_items(entry_stack, client_id, body["idempotencyKey"])) == 1
    (order_id,) = order_ids
    assert [m["orderId"] for m in drain_queue(entry_stack)].count(order_id) == 1


def test_header_key_is_equivalent_to_body_key(entry_stack: StackHandle) -> None:
    _, token = new_client(entry_stack)
    body = order_body()
    key = body.pop("idempotencyKey")
    with entry_stack.http(token) as http:
        first = http.post("/order", json=body, headers={"Idempotency-Key": key})
        second = http.post("/order", json=dict(body, idempotencyKey=key))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["orderId"] == second.json()["orderId"]


def test_replay_returns_current_state(entry_stack: StackHandle) -> None:
    """After the matcher has moved the order on, a replay shows where it is now."""
    _, token = new_client(entry_stack)
    body = order_body(qty=4, price="10.00")
    with entry_stack.http(token) as http:
        created = http.post("/order", json=body).json()
        set_order_fields(entry_stack, created["orderId"], status="FILLED", filledQty=4,
                         filledNotionalTicks=4 * 1000, seq=7)
        replay = http.post("/order", json=body)
    assert replay.status_code == 200
    assert replay.json()["status"] == "FILLED"
    assert replay.json()["filledQty"] == 4
    assert replay.json()["avgFillPrice"] == "10.00"
    assert replay.json()["seq"] == 7


@pytest.mark.parametrize(
    "change",
    [{"side": "SELL"}, {"qty": 11}, {"price": "101.26"}, {"timeInForce": "IOC"},
     {"postOnly": True}, {"symbol": "TULIPB"}],
    ids=lambda c: next(iter(c)),
)
def test_same_key_different_payload_is_409(entry_stack: StackHandle, change: dict[str, object]) -> None:
    client_id, token = new_client(entry_stack)
    body = order_body()
    with entry_stack.http(token) as http:
        original = http.post("/order", json=body).json()
        conflict = http.post("/order", json=dict(body, **change))
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["code"] == "idempotency_conflict"
    assert error["details"]["orderId"] == original["orderId"]
    assert len(order_items_of(entry_stack, client_id)) == 1


def test_equivalent_price_spellings_are_the_same_order(entry_stack: StackHandle) -> None:
    _, token = new_client(entry_stack)
    body = order_body(price="101.5")
    with entry_stack.http(token) as http:
        first = http.post("/order", json=body)
        second = http.post("/order", json=dict(body, price=101.50))
        third = http.post("/order", json=dict(body, price="101.500"))
    assert [r.status_code for r in (first, second, third)] == [201, 200, 200]


def test_same_key_from_two_clients_is_two_orders(entry_stack: StackHandle) -> None:
    body = order_body()
    ids = []
    for _ in range(2):
        _, token = new_client(entry_stack)
        with entry_stack.http(token) as http:
            response = http.post("/order", json=body)
        assert response.status_code == 201
        ids.append(response.json()["orderId"])
    assert ids[0] != ids[1]


def _calls(stack: StackHandle, name: str) -> int:
    trace = Path(stack.env["TULIP_STATE_DIR"]) / "traces" / "http.jsonl"
    if not trace.exists():
        return 0
    return sum(json.loads(line)["name"] == name for line in trace.read_text().splitlines() if line)


def _settled_calls(stack: StackHandle, name: str) -> int:
    """The span count once the exporter (1 s batches) has flushed everything."""
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = _calls(stack, name)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since > 3:
            return now
        time.sleep(0.2)
    raise AssertionError(f"{name} spans never settled")


def test_concurrent_accepts_share_calls_and_each_gets_its_own_answer(
        entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    drain_queue(entry_stack, wait_s=0.2)
    with entry_stack.http(token) as http:
        earlier = [http.post("/order", json=order_body()) for _ in range(5)]
    assert all(r.status_code == 201 for r in earlier)
    replays = [(json.loads(r.request.content), r.json()["orderId"]) for r in earlier] * 2
    raced = order_body()
    bodies: list[tuple[dict[str, Any], str | None]] = [
        *((order_body(), None) for _ in range(NEW)), *replays, (raced, None), (raced, None)]
    drain_queue(entry_stack, wait_s=0.2)
    transactions_before = _settled_calls(entry_stack, "DynamoDB.TransactWriteItems")

    answers: list[tuple[int, dict[str, Any]]] = [(0, {})] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def submit(index: int) -> None:
        with httpx.Client(base_url=entry_stack.url, timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as http:
            http.get("/healthz")  # connected before the barrier: the posts arrive together
            barrier.wait(30)
            response = http.post("/order", json=bodies[index][0])
            answers[index] = (response.status_code, response.json())

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    new_ids = [answer["orderId"] for status, answer in answers[:NEW] if status == 201]
    assert len(set(new_ids)) == NEW, answers[:NEW]
    for (body, original), (status, answer) in zip(bodies[NEW:NEW + len(replays)],
                                                  answers[NEW:NEW + len(replays)], strict=True):
        assert (status, answer["orderId"]) == (200, original), (body, answer)
    race = sorted((status, answer["orderId"]) for status, answer in answers[-2:])
    assert [status for status, _ in race] == [200, 201] and race[0][1] == race[1][1], race
    stored = {item["orderId"]["S"] for item in order_items_of(entry_stack, client_id)}
    assert stored == {*new_ids, race[0][1], *(original for _, original in replays)}
    queued = [m["orderId"] for m in drain_queue(entry_stack)]
    assert sorted(queued) == sorted([*new_ids, race[0][1]])
    # Shared: the submits that write (the new orders and the race; the replays of keys this
    # process accepted read first, orders/recent_keys.py) made fewer transactions than there were
    # of them. One transaction per submit, as before group commit, fails here.
    writers = NEW + 2
    transactions = _settled_calls(entry_stack, "DynamoDB.TransactWriteItems") - transactions_before
    assert 0 < transactions < writers, (transactions, writers)


def test_a_retry_of_a_key_this_process_accepted_reads_and_writes_nothing(
        entry_stack: StackHandle) -> None:
    """orders/recent_keys.py: the retry is answered from a strongly consistent read, as the
    write path would have answered it, without the transaction that fails (which, in a group
    commit, would have cost the batch's other orders a second round)."""
    client_id, token = new_client(entry_stack)
    body = order_body()
    with entry_stack.http(token) as http:
        first = http.post("/order", json=body)
        assert first.status_code == 201, first.text
        before = _settled_calls(entry_stack, "DynamoDB.TransactWriteItems")
        retries = [http.post("/order", json=body) for _ in range(5)]
        conflict = http.post("/order", json=dict(body, qty=body["qty"] + 1))
        after = _settled_calls(entry_stack, "DynamoDB.TransactWriteItems")
    assert [r.status_code for r in retries] == [200] * 5
    assert {r.json()["orderId"] for r in retries} == {first.json()["orderId"]}
    assert conflict.status_code == 409
    assert conflict.json()["error"]["details"]["orderId"] == first.json()["orderId"]
    assert after == before, (before, after)
    assert len(order_items_of(entry_stack, client_id)) == 1
