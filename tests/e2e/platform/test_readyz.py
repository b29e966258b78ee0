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


def test_not_ready_when_moto_is_killed(private_stack: StackHandle) -> None:
    with private_stack.http() as http:
        assert http.get("/readyz").status_code == 200
        private_stack.stack.kill("moto")
        deadline = time.monotonic() + 20
        response = http.get("/readyz")
        while response.status_code != 503 and time.monotonic() < deadline:
            time.sleep(0.2)
            response = http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["dynamodb"]["ok"] is False
    assert body["checks"]["sqs"]["ok"] is False
    assert body["checks"]["redis"]["ok"] is True  # only the dead dependency is reported down
    assert "Traceback" not in response.text
