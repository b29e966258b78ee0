"""The trading page in headless Chromium against the real stack (matcher included): sign in,
place an order (ghost row "syncing…" -> ACCEPTED/OPEN), a crossing order from another user
fills it, cancel, and the reconnect banner and the connection badge (live -> reconnecting ->
live) through a server restart. Any console error fails the
test, except the browser's own connection-refused lines while the server is deliberately down."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from tulip_client import TulipClient

from devstack.provision import DEMO_PASSWORD
from tests.support.stack import StackHandle

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
OUTAGE_NOISE = re.compile(r"WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|"
                          r"Failed to load resource")
STATUS_LOG = """() => {
  window.__statuses = [];
  const body = document.querySelector('#orders tbody');
  const record = () => body.querySelectorAll('tr').forEach(
      (tr) => window.__statuses.push(tr.dataset.status));
  new MutationObserver(record).observe(body, {childList: true, subtree: true, attributes: true});
}"""


def _row_status(page: Any, order_id: str) -> str:
    return str(page.get_attribute(f'#orders tr[data-order-id="{order_id}"]', "data-status"))


def _wait_status(page: Any, order_id: str, statuses: tuple[str, ...], timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        if page.query_selector(f'#orders tr[data-order-id="{order_id}"]'):
            status = _row_status(page, order_id)
            if status in statuses:
                return status
        page.wait_for_timeout(100)
    raise AssertionError(f"order {order_id} stayed {status!r}, wanted {statuses}")


def test_trade_cancel_and_reconnect_banner(web_stack: StackHandle, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    errors: list[str] = []
    outage = {"on": False}

    def on_console(message: Any) -> None:
        if message.type == "error" and not (outage["on"] and OUTAGE_NOISE.search(message.text)):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    try:
        page.goto(web_stack.url + "/")
        page.fill("#username", "alice")
        page.fill("#password", DEMO_PASSWORD)
        page.click("#login")
        page.wait_for_selector("#app:not([hidden])")
        page.wait_for_function("window.tulip.state.live === true", timeout=15_000)

        # -- place: ghost row first, then the server's ACCEPTED, then the matcher's OPEN
        page.evaluate(STATUS_LOG)
        page.select_option("#side", "BUY")
        page.fill("#qty", "5")
        page.fill("#price", "90.00")
        page.click("#submit")
        row = page.wait_for_selector('#orders tr[data-order-id]:not([data-order-id=""])')
        order_id = row.get_attribute("data-order-id")
        assert order_id
        assert _wait_status(page, order_id, ("OPEN",)) == "OPEN"
        seen = page.evaluate("window.__statuses")
        assert seen[0] == "PENDING" and "syncing…" not in page.inner_text("#orders")
        assert page.inner_text("#ladder").count("90.00") == 1

        # -- another user's crossing order fills part of it (the matcher must be running)
        with TulipClient(web_stack.url, web_stack.token("bob")) as bob:
            bob.place_order("SELL", 2, "90.00", symbol="TULIP")
        assert _wait_status(page, order_id, ("PARTIALLY_FILLED",)) == "PARTIALLY_FILLED"
        page.wait_for_function("document.querySelector('#tape tbody').children.length > 0")
        assert "90.00" in page.inner_text("#tape")

        # -- cancel
        page.click(f'#orders tr[data-order-id="{order_id}"] button.cancel')
        assert _wait_status(page, order_id, ("CANCELLED",)) == "CANCELLED"

        # -- server restart: the banner shows, then the page is live again
        outage["on"] = True
        web_stack.stack.kill("http")
        page.wait_for_selector("#banner:not([hidden])", timeout=10_000)
        assert "Reconnecting" in page.inner_text("#banner")
        page.wait_for_selector('#conn[data-state="reconnecting"]', timeout=10_000)
        assert page.inner_text("#conn") == "reconnecting"
        page.screenshot(path=str(ARTIFACTS / "realtime-reconnecting.png"), full_page=True)
        web_stack.stack.start_http()
        back = time.monotonic()
        page.wait_for_function("window.tulip.state.live === true", timeout=10_000)
        reconnect_s = time.monotonic() - back
        outage["on"] = False
        assert reconnect_s < 5.0
        assert page.get_attribute("#conn", "data-state") == "live"
        assert page.inner_text("#conn") == "live" and "us-east-1" in page.inner_text("#region")
        page.screenshot(path=str(ARTIFACTS / "realtime-trading.png"), full_page=True)
    finally:
        page.close()
    assert errors == []
