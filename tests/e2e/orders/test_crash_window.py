"""The SQS send fails after the DynamoDB commit: the client still gets 201 (the order is durable)
and the sweeper (Celery beat in the worker) re-enqueues it exactly once."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.orders import drain_queue, new_client, order_body
from tests.support.stack import start_stack


def test_lost_send_is_repaired_by_the_sweeper_exactly_once(tmp_path: Path) -> None:
    # The HTTP server gets a queue URL that does not exist, so every send after commit fails;
    # the worker (sweeper) has the real one. No code path is patched: the fault is real.
    handle = start_stack(
        tmp_path / "stack", with_worker=True, with_matcher=False,  # nothing consumes the queue
        extra_env={"SWEEPER_INTERVAL_S": "1", "SWEEPER_MIN_AGE_S": "1"},
        component_env={"http": {"EVENTS_FIFO_URL": "http://127.0.0.1:1/000000000000/gone-{symbol}.fifo"}},
    )
    try:
        _, token = new_client(handle)
        with handle.http(token) as http:
            response = http.post("/order", json=order_body())
        assert response.status_code == 201, response.text
        order_id = response.json()["orderId"]
        found: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            found = [m for m in drain_queue(handle, wait_s=0.5) if m["orderId"] == order_id]
        assert len(found) == 1, "the sweeper never re-enqueued the order"
        assert found[0]["type"] == "OrderAccepted"
        # Several more sweeps: still no second copy (claimed by sweptAt; SQS dedupes on the IK).
        time.sleep(4)
        assert [m for m in drain_queue(handle, wait_s=0.5) if m["orderId"] == order_id] == []
        http_log = (tmp_path / "stack" / "logs" / "http.log").read_text()
        assert "send to events queue failed" in http_log
    finally:
        handle.stop()
