"""The error body of docs/api.md on every error path, Django's own included, and the correlation id
on every response."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.stack import StackHandle


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "correlationId"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["correlationId"] == response.headers["X-Correlation-Id"]
    for leak in ("Traceback", 'File "', "Exception", "django.", "rest_framework"):
        assert leak not in response.text
    return dict(error)


def test_correlation_id_is_echoed(stack: StackHandle) -> None:
    with stack.http() as http:
        response = http.get("/healthz", headers={"X-Request-Id": "abc-123:x.y"})
        assert response.headers["X-Correlation-Id"] == "abc-123:x.y"
        generated = http.get("/healthz").headers["X-Correlation-Id"]
        assert len(generated) == 32
        # A header that could smuggle text into logs is replaced, not echoed.
        hostile = http.get("/healthz", headers={"X-Request-Id": "a b<script>"})
        assert hostile.headers["X-Correlation-Id"] != "a b<script>"


def test_correlation_id_on_errors_too(stack: StackHandle) -> None:
    with stack.http() as http:
        response = http.get("/no/such/path", headers={"X-Request-Id": "trace-404"})
    assert _error(response, 404, "not_found")["correlationId"] == "trace-404"


def test_unknown_path_404(stack: StackHandle) -> None:
    with stack.http() as http:
        _error(http.get("/definitely-not-here"), 404, "not_found")
        _error(http.post("/nothing", content=b"{}"), 404, "not_found")


def test_method_not_allowed_405(stack: StackHandle) -> None:
    with stack.http(stack.token("alice")) as http:
        response = http.delete("/healthz")
        _error(response, 405, "validation_error")
        assert "GET" in response.headers["Allow"]
        _error(http.put("/order", json={}), 405, "validation_error")


def test_validation_400(stack: StackHandle) -> None:
    with stack.http(stack.token("alice")) as http:
        error = _error(http.post("/order", json={"side": "SIDEWAYS", "qty": 1, "price": "1.00",
                                                 "idempotencyKey": "k-400"}), 400, "validation_error")
        assert "side" in error["details"]  # type: ignore[operator]


def test_non_json_400(stack: StackHandle) -> None:
    with stack.http(stack.token("alice")) as http:
        _error(http.post("/order", content=b"{not json", headers={"Content-Type": "application/json"}),
               400, "validation_error")


def test_forbidden_403(stack: StackHandle) -> None:
    with stack.http(stack.token("ops")) as http:
        _error(http.get("/orders"), 403, "forbidden")


def test_unauthorized_401(stack: StackHandle) -> None:
    with stack.http() as http:
        _error(http.get("/orders"), 401, "unauthorized")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_payload_too_large_413(stack: StackHandle, declared: bool) -> None:
    big = json.dumps({"symbol": "TULIP", "side": "BUY", "qty": 1, "price": "1.00",
                      "idempotencyKey": "big", "pad": "x" * 100_000}).encode()
    with stack.http(stack.token("alice")) as http:
        if declared:
            response = http.post("/order", content=big, headers={"Content-Type": "application/json"})
        else:
            response = http.post("/order", content=iter([big[:50_000], big[50_000:]]),
                                 headers={"Content-Type": "application/json"})
    _error(response, 413, "payload_too_large")


def test_healthz_is_plain_ok(stack: StackHandle) -> None:
    with stack.http() as http:
        response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
