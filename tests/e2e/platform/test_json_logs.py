"""The JSON logs of a real submit -> fill (docs/rules.md, "Observability"): the stack's children
write JSON lines to state_dir/logs/<name>.log, and the lines of one order carry the context the
rules name: requestId (= the response's X-Correlation-Id), clientId (the token's sub), orderId and
region on the HTTP side; symbol, region, the orderId and the seqs it got on the matcher's side."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ledger import wait_until_matched
from tests.support.stack import StackHandle, start_stack
from tests.support.trading import Trader


@pytest.fixture(scope="module")
def logged_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    handle = start_stack(Path(tmp_path_factory.mktemp("logs")), symbols="LOGS")
    try:
        yield handle
    finally:
        handle.stop()


def _lines(stack: StackHandle, child: str) -> list[dict[str, Any]]:
    path = stack.stack.options.state_dir / "logs" / f"{child}.log"
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue  # a line some library printed that is not ours
    return lines


def _wait_for(stack: StackHandle, child: str, predicate: Any, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in _lines(stack, child) if predicate(line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_submit_to_fill_logs_carry_the_request_and_ledger_context(logged_stack: StackHandle) -> None:
    region = logged_stack.env["AWS_REGION"]
    maker, taker = Trader(logged_stack, "log-maker"), Trader(logged_stack, "log-taker")
    resting = maker.place("LOGS", "SELL", 2, "42.00")
    request_id = f"log-test-{uuid.uuid4().hex[:12]}"
    response = taker.http.post("/order", headers={"X-Request-Id": request_id}, json={
        "symbol": "LOGS", "side": "BUY", "qty": 2, "price": "42.00",
        "idempotencyKey": uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    assert response.headers["X-Correlation-Id"] == request_id
    order_id = response.json()["orderId"]
    wait_until_matched(logged_stack, [resting["orderId"], order_id])
    trade = taker.http.get("/trades?symbol=LOGS").json()["items"][0]

    # HTTP side: the access line and the service's "order accepted" line of that request.
    http = _wait_for(logged_stack, "http", lambda line: line.get("requestId") == request_id)
    access = [line for line in http if line.get("msg") == "request"]
    accepted = [line for line in http if line.get("msg") == "order accepted"]
    assert len(access) == 1 and len(accepted) == 1, http
    for line in (access[0], accepted[0]):
        assert line["clientId"] == taker.client_id
        assert line["orderId"] == order_id
        assert line["region"] == region
        assert line["level"] == "INFO" and line["ts"].endswith("+00:00")
    assert (access[0]["method"], access[0]["path"], access[0]["status"]) == ("POST", "/order", 201)
    assert accepted[0]["symbol"] == "LOGS"

    # Matcher side: the committed batch that took the order, with the seqs it stored; the trade's
    # seq is among them.
    batches = _wait_for(logged_stack, "matcher-1", lambda line: line.get("msg") == "batch committed"
                        and order_id in line.get("orderIds", []))
    assert len(batches) == 1, batches
    batch = batches[0]
    assert batch["symbol"] == "LOGS" and batch["region"] == region
    assert isinstance(batch["seq"], int) and batch["firstSeq"] <= trade["seq"] <= batch["seq"]
