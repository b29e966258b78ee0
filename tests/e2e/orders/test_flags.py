"""FEATURE_FLAGS: denyWrites refuses every write with 503; injectLatencyMs delays every request."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.orders import new_client, order_body
from tests.support.stack import start_stack


def test_deny_writes_and_injected_latency(tmp_path: Path) -> None:
    handle = start_stack(tmp_path / "stack", with_worker=False,
                         extra_env={"FEATURE_FLAGS": '{"denyWrites":true,"injectLatencyMs":300}'})
    try:
        _, token = new_client(handle)
        with handle.http(token) as http:
            started = time.perf_counter()
            write = http.post("/order", json=order_body())
            elapsed = time.perf_counter() - started
            cancel = http.post("/cancel", json={"orderId": "a" * 32})
            read = http.get("/orders")
        assert write.status_code == 503
        assert write.json()["error"]["code"] == "unavailable"
        assert cancel.status_code == 503
        assert read.status_code == 200 and read.json()["items"] == []
        # A behaviour, not a performance bound: the flag adds at least its delay.
        assert elapsed >= 0.3
    finally:
        handle.stop()
