"""An unexpected exception is a 500 with the contract body and no exception text, in DRF views
and in plain Django views alike, whether the middleware chain runs sync (WSGI, the test client)
or async (ASGI, as uvicorn serves it); the traceback goes to the log only."""

from __future__ import annotations

import asyncio
import logging

import pytest
from django.http import HttpResponse
from django.test import AsyncClient, Client

PATHS = ["/api-boom", "/django-boom"]


def _get(mode: str, path: str) -> HttpResponse:
    if mode == "sync":
        response: HttpResponse = Client(raise_request_exception=False).get(
            path, HTTP_X_REQUEST_ID="boom-1")
        return response
    client = AsyncClient(raise_request_exception=False)
    return asyncio.run(client.get(path, headers={"X-Request-Id": "boom-1"}))  # type: ignore[no-any-return]


@pytest.mark.urls("tests.unit.platform.raising_urls")
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("path", PATHS)
def test_500_has_contract_body_and_no_leak(mode: str, path: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        response = _get(mode, path)
    assert response.status_code == 500
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"]["code"] == "internal"
    assert body["error"]["correlationId"] == "boom-1" == response["X-Correlation-Id"]
    assert "secret" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any("secret internal detail" in (r.exc_text or str(r.exc_info)) for r in caplog.records)


@pytest.mark.urls("tests.unit.platform.raising_urls")
def test_async_chain_has_no_sync_adapter_around_our_middleware() -> None:
    """Under ASGI every middleware runs async, so Django adds no loop->thread->loop hop per
    request (it would if one of them were sync-only)."""
    from django.core.handlers.asgi import ASGIHandler

    handler = ASGIHandler()
    chain, names = handler._middleware_chain, []
    while chain is not None and len(names) < 50:
        names.append(type(chain).__name__)
        chain = getattr(chain, "get_response", None) or getattr(chain, "__wrapped__", None)
    assert "AsyncToSync" not in names and "SyncToAsync" not in names, names


@pytest.mark.urls("tests.unit.platform.raising_urls")
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_throttled_dependency_is_a_503_to_retry_not_a_500(mode: str) -> None:
    response = _get(mode, "/api-throttled")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"]["code"] == "unavailable"
    assert "same idempotency key" in body["error"]["message"]
    assert body["error"]["correlationId"] == "boom-1"
    assert "secret" not in response.content.decode()
