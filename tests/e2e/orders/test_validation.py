"""Bad input: the documented 4xx with the contract error body, and nothing written or queued."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.orders import drain_queue, new_client, order_body, order_items_of
from tests.support.stack import StackHandle

OK = order_body()

BAD_BODIES: list[tuple[str, Any, str]] = [
    ("side-missing", dict(OK, side=None), "side"),
    ("side-lowercase", dict(OK, side="buy"), "side"),
    ("tif-unknown", dict(OK, timeInForce="DAY"), "timeInForce"),
    ("qty-zero", dict(OK, qty=0), "qty"),
    ("qty-negative", dict(OK, qty=-5), "qty"),
    ("qty-fraction", dict(OK, qty=1.5), "qty"),
    ("qty-string", dict(OK, qty="10"), "qty"),
    ("qty-bool", dict(OK, qty=True), "qty"),
    ("qty-huge", dict(OK, qty=10**12), "qty"),
    ("price-missing", {k: v for k, v in OK.items() if k != "price"}, "price"),
    ("price-zero", dict(OK, price="0"), "price"),
    ("price-negative", dict(OK, price="-1.00"), "price"),
    ("price-off-tick", dict(OK, price="101.255"), "price"),
    ("price-text", dict(OK, price="cheap"), "price"),
    ("price-nan", dict(OK, price="NaN"), "price"),
    ("price-infinity", dict(OK, price="Infinity"), "price"),
    ("price-list", dict(OK, price=[1]), "price"),
    ("price-huge", dict(OK, price="1e30"), "price"),
    ("postonly-string", dict(OK, postOnly="yes"), "postOnly"),
    ("postonly-ioc", dict(OK, postOnly=True, timeInForce="IOC"), "postOnly"),
    ("key-missing", {k: v for k, v in OK.items() if k != "idempotencyKey"}, "idempotencyKey"),
    ("key-empty", dict(OK, idempotencyKey=""), "idempotencyKey"),
    ("key-too-long", dict(OK, idempotencyKey="k" * 129), "idempotencyKey"),
    ("key-bad-chars", dict(OK, idempotencyKey="a b/c"), "idempotencyKey"),
    ("key-number", dict(OK, idempotencyKey=12345), "idempotencyKey"),
    ("symbol-unknown", dict(OK, symbol="NOPE"), "symbol"),
    ("unknown-field", dict(OK, leverage=100), "leverage"),
    ("not-an-object", [OK], "body"),
    ("json-string", "order please", "body"),
]


@pytest.mark.parametrize(("body", "field"), [(b, f) for _, b, f in BAD_BODIES],
                         ids=[name for name, _, _ in BAD_BODIES])
def test_bad_field_is_400_and_nothing_written(entry_stack: StackHandle, body: Any, field: str) -> None:
    client_id, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        response = http.post("/order", content=json.dumps(body),
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"], error
    assert error["correlationId"] == response.headers["X-Correlation-Id"]
    assert order_items_of(entry_stack, client_id) == []


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b'{"side": "BUY",}'],
                         ids=["broken", "binary", "trailing-comma"])
def test_non_json_is_400(entry_stack: StackHandle, raw: bytes) -> None:
    client_id, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        response = http.post("/order", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert order_items_of(entry_stack, client_id) == []


def test_body_and_header_keys_differ_is_400(entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        response = http.post("/order", json=order_body(idempotencyKey="a"),
                             headers={"Idempotency-Key": "b"})
    assert response.status_code == 400
    assert "idempotencyKey" in response.json()["error"]["details"]
    assert order_items_of(entry_stack, client_id) == []


def test_client_id_mismatch_is_403(entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        response = http.post("/order", json=order_body(clientId="someone-else"))
        matching = http.post("/order", json=order_body(clientId=client_id))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert matching.status_code == 201  # naming yourself is allowed
    assert len(order_items_of(entry_stack, client_id)) == 1


def test_oversized_body_is_413_and_nothing_written(entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        response = http.post("/order", json=order_body(note="x" * 20_000))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert order_items_of(entry_stack, client_id) == []


def test_nothing_reached_the_queue_for_rejected_submits(entry_stack: StackHandle) -> None:
    client_id, token = new_client(entry_stack)
    drain_queue(entry_stack, wait_s=0.2)
    with entry_stack.http(token) as http:
        for _, body, _ in BAD_BODIES:
            assert http.post("/order", json=body).status_code == 400
    assert [m for m in drain_queue(entry_stack, wait_s=0.5) if m.get("clientId") == client_id] == []


@pytest.mark.parametrize("query", ["status=closed", "limit=0", "limit=101", "limit=x",
                                   "cursor=!!!", "symbol=NOPE"])
def test_bad_list_parameters_are_400(entry_stack: StackHandle, query: str) -> None:
    _, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        response = http.get(f"/orders?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/book?symbol=NOPE", "/book?depth=0", "/book?depth=51",
                                  "/trades?limit=1000", "/fills?cursor=abc"])
def test_bad_read_parameters_are_400(entry_stack: StackHandle, path: str) -> None:
    _, token = new_client(entry_stack)
    with entry_stack.http(token) as http:
        assert http.get(path).status_code == 400
