"""Concurrent accepts share their AWS calls (orders/storage.py, tulip/events_queue.py: group
commit) and each still gets its own exact answer: new orders 201 and durable, replays 200 with
the original order, two racing submits of one key one order, every new order queued once."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.orders import drain_queue, new_client, order_body, order_items_of
from tests.support.stack import StackHandle

NEW = 30


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
    # Shared: the submits (new, replays and the race; each one writes) made fewer transactions
    # than there were submits. One transaction per submit, as before group commit, fails here.
    writers = len(bodies)
    transactions = _settled_calls(entry_stack, "DynamoDB.TransactWriteItems") - transactions_before
    assert 0 < transactions < writers, (transactions, writers)
