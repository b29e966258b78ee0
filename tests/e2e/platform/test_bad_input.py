"""Bad input as a new user sends it (issue: about 45 bad inputs): every malformed body is a 400 or
415 with the one error body and a correlation id, never a 500; and every error, whichever code
produced it (a DRF view, the middleware, Django's URL resolver, the plain /poll and /metrics
views), is rendered by the one formatter: byte for byte the compact JSON DRF writes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.stack import StackHandle

NESTED = b"[" * 16_000  # under the 16 KiB body cap: the decoder's RecursionError used to be a 500


def _one_formatter(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details",
                                                             "correlationId"}
    assert body["error"]["code"] == code
    assert body["error"]["correlationId"] == response.headers["X-Correlation-Id"]
    # The same bytes DRF's JSONRenderer writes: compact separators, UTF-8.
    assert response.content == json.dumps(body, ensure_ascii=False,
                                           separators=(",", ":")).encode()
    for leak in ("Traceback", "RecursionError", "Exception", 'File "'):
        assert leak not in response.text
    return dict(body["error"])


@pytest.fixture(scope="module")
def alice(stack: StackHandle) -> httpx.Client:
    return stack.http(stack.token("alice"))


@pytest.mark.parametrize("path", ["/order", "/cancel", "/auth/login"])
def test_deep_nesting_is_a_400_not_a_500(alice: httpx.Client, path: str) -> None:
    for raw in (NESTED, b'{"a":' * 2000 + b"1" + b"}" * 2000):
        error = _one_formatter(alice.post(path, content=raw,
                                          headers={"Content-Type": "application/json"}),
                               400, "validation_error")
        assert error["details"] == {"body": ["nests deeper than 32 levels"]}


@pytest.mark.parametrize(("name", "raw", "field"), [
    ("qty-5000-digits",
     '{"side":"BUY","qty":' + "9" * 5000 + ',"price":"1.00","idempotencyKey":"h1"}', "body"),
    ("qty-1e400", '{"side":"BUY","qty":1e400,"price":"1.00","idempotencyKey":"h2"}', "qty"),
    ("price-1e400", '{"side":"BUY","qty":1,"price":1e400,"idempotencyKey":"h3"}', "price"),
    ("price-tiny-exponent", '{"side":"BUY","qty":1,"price":"1e-999999999","idempotencyKey":"h4"}', "price"),
    ("price-huge-string",
     '{"side":"BUY","qty":1,"price":"' + "9" * 5000 + '","idempotencyKey":"h5"}', "price"),
    ("qty-NaN", '{"side":"BUY","qty":NaN,"price":"1.00","idempotencyKey":"h6"}', "body"),
    ("price-Infinity", '{"side":"BUY","qty":1,"price":Infinity,"idempotencyKey":"h7"}', "body"),
])
def test_huge_and_non_json_numbers_are_a_400(alice: httpx.Client, name: str, raw: str,
                                             field: str) -> None:
    error = _one_formatter(alice.post("/order", content=raw.encode(),
                                      headers={"Content-Type": "application/json"}),
                           400, "validation_error")
    assert field in error["details"], (name, error)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml"])
@pytest.mark.parametrize("path", ["/order", "/cancel", "/auth/login"])
def test_json_sent_as_another_media_type_is_a_415(alice: httpx.Client, path: str,
                                                   content_type: str) -> None:
    body = json.dumps({"side": "BUY", "qty": 1, "price": "1.00", "idempotencyKey": "ct-1"})
    error = _one_formatter(alice.post(path, content=body, headers={"Content-Type": content_type}),
                           415, "validation_error")
    assert "contentType" in error["details"]


def test_json_with_a_charset_or_without_a_content_type_is_read(alice: httpx.Client) -> None:
    body = {"side": "BUY", "qty": 1, "price": "1.00", "idempotencyKey": "ct-ok-1"}
    first = alice.post("/order", content=json.dumps(body),
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert first.status_code == 201, first.text
    again = alice.post("/order", content=json.dumps(body))  # no Content-Type: read as JSON
    assert again.status_code == 200 and again.json()["orderId"] == first.json()["orderId"]
    alice.post("/cancel", json={"orderId": first.json()["orderId"]})


@pytest.mark.parametrize(("order_id", "message"), [
    ("9f0c1e2a-5b6c-4d7e-8f90-a1b2c3d4e5f6", "must be 1-64 letters and digits"),
    ("abc def", "must be 1-64 letters and digits"), ("x" * 65, "must be 1-64 letters and digits"),
    ("²³", "must be 1-64 letters and digits"), (12345, "must be 1-64 letters and digits"),
    ("", "must be 1-64 letters and digits"), (None, "is required")])
def test_cancel_names_a_malformed_order_id_as_malformed(alice: httpx.Client, order_id: object,
                                                        message: str) -> None:
    body = {} if order_id is None else {"orderId": order_id}
    error = _one_formatter(alice.post("/cancel", json=body), 400, "validation_error")
    assert error["details"]["orderId"][0].startswith(message), error


def test_every_error_path_uses_the_one_formatter(stack: StackHandle, alice: httpx.Client) -> None:
    with stack.http() as anonymous:
        _one_formatter(anonymous.get("/no/such/path"), 404, "not_found")  # Django's resolver
        _one_formatter(anonymous.get("/orders"), 401, "unauthorized")  # DRF
        _one_formatter(anonymous.post("/metrics"), 405, "validation_error")  # a plain view
    _one_formatter(alice.delete("/order"), 405, "validation_error")  # DRF
    _one_formatter(alice.get("/order/not-an-id!"), 404, "not_found")
    _one_formatter(alice.post("/order", content=b"x" * 20_000,
                              headers={"Content-Type": "application/json"}),
                   413, "payload_too_large")  # the middleware
    _one_formatter(alice.get("/poll"), 400, "validation_error")  # the async plain view
    posted = alice.post("/poll")
    _one_formatter(posted, 405, "validation_error")
    assert posted.headers["Allow"] == "GET"
    _one_formatter(alice.post("/order", content=b"{broken"), 400, "validation_error")
    _one_formatter(alice.get("/book?depth=0"), 400, "validation_error")
