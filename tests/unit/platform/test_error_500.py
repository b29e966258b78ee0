"""An unexpected exception is a 500 with the contract body and no exception text, in DRF views
and in plain Django views alike; the traceback goes to the log only."""

from __future__ import annotations

import logging

import pytest
from django.test import Client


@pytest.mark.urls("tests.unit.platform.raising_urls")
@pytest.mark.parametrize("path", ["/api-boom", "/django-boom"])
def test_500_has_contract_body_and_no_leak(path: str, caplog: pytest.LogCaptureFixture) -> None:
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = client.get(path, HTTP_X_REQUEST_ID="boom-1")
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "internal"
    assert body["error"]["correlationId"] == "boom-1" == response["X-Correlation-Id"]
    assert "secret" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any("secret internal detail" in (r.exc_text or str(r.exc_info)) for r in caplog.records)
