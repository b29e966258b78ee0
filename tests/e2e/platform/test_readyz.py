"""/readyz reports each dependency and the region role; 503 once DynamoDB/SQS (moto) is gone."""

from __future__ import annotations

import time

from tests.support.stack import StackHandle


def test_ready_when_everything_runs(stack: StackHandle) -> None:
    with stack.http(stack.token("alice")) as http:
        response = http.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["regionRole"] == "leader"
    assert body["region"] == "us-east-1"
    assert {"dynamodb", "sqs", "redis", "database"} <= set(body["checks"])
    assert all(check["ok"] for check in body["checks"].values())


def test_when_moto_is_killed_not_ready_and_every_request_is_a_503_to_retry(
        private_stack: StackHandle) -> None:
    """DynamoDB and SQS gone: /readyz says which, and the API answers 503 `unavailable` with
    Retry-After (tulip/transient.py), never a 500: a retry with the same key is safe."""
    token = private_stack.token("alice")
    with private_stack.http(token) as http:
        assert http.get("/readyz").status_code == 200
        assert http.get("/orders").status_code == 200  # the token's keys are cached from here on
        private_stack.stack.kill("moto")
        deadline = time.monotonic() + 20
        response = http.get("/readyz")
        while response.status_code != 503 and time.monotonic() < deadline:
            time.sleep(0.2)
            response = http.get("/readyz")
        requests = [("POST", "/order", {"side": "BUY", "qty": 1, "price": "10.00",
                                        "idempotencyKey": "moto-gone-1"}),
                    ("POST", "/cancel", {"orderId": "ab12cd34"}),
                    ("GET", "/order/ab12cd34", None), ("GET", "/orders", None)]
        answers = [(path, http.request(method, path, json=body)) for method, path, body in requests]
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["dynamodb"]["ok"] is False
    assert body["checks"]["sqs"]["ok"] is False
    assert body["checks"]["redis"]["ok"] is True  # only the dead dependency is reported down
    assert "Traceback" not in response.text
    for path, answer in answers:
        assert answer.status_code == 503, (path, answer.status_code, answer.text)
        assert answer.json()["error"]["code"] == "unavailable", (path, answer.text)
        assert answer.headers["Retry-After"] == "1", path
