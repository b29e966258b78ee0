"""The trading page as a trader meets it, in headless Debian Chromium against the real stack
(matcher included): the signed-out view shows the sign-in form alone; the trades panel, the price
chart (uPlot) and the depth ladder are drawn from real trades on open, stay live, and come back
after a reload; an order from the ticket fills and shows in my orders and my fills. Every test
fails on any console error and keeps a screenshot under test-artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.provision import DEMO_PASSWORD
from tests.support.ledger import wait_until_matched
from tests.support.stack import StackHandle
from tests.support.trading import Trader

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
SYMBOL = "WEB"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda exc: page.console_errors.append(f"pageerror: {exc}"))
    try:
        yield page
    finally:
        page.close()


def _sign_in(page: Any, url: str) -> None:
    page.goto(f"{url}/#{SYMBOL}")
    page.fill("#username", "alice")
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login")
    page.wait_for_function("window.tulip.state.live === true", timeout=20_000)


def _wait_js(page: Any, expression: str, timeout_ms: int = 15_000) -> None:
    page.wait_for_function(expression, timeout=timeout_ms)


def test_signed_out_shows_the_sign_in_view_alone(web_stack: StackHandle, page: Any) -> None:
    page.goto(web_stack.url + "/")
    page.wait_for_selector("#signin")
    assert page.is_visible("#signin") and page.is_visible("#login")
    for hidden in ("#app", "#ticket", "#ladder", "#tape", "#orders", "#fills", "#price-chart",
                   "#signout"):
        assert not page.is_visible(hidden), hidden
    assert page.evaluate("getComputedStyle(document.getElementById('app')).display") == "none"
    assert page.get_attribute("#conn", "data-state") == "offline"
    assert "us-east-1" in page.inner_text("#region")
    page.wait_for_timeout(500)  # the region probe has answered
    page.screenshot(path=str(ARTIFACTS / "realtime-signed-out.png"), full_page=True)
    assert page.console_errors == []


def _ladder(page: Any) -> list[tuple[str, str, int, float]]:
    return page.evaluate("""() => [...document.querySelectorAll('#ladder tbody tr[data-price]')].map(
        (tr) => [tr.className, tr.dataset.price, Number(tr.dataset.cum),
                 parseFloat(tr.querySelector('.bar').style.width)])""")


def test_trades_chart_and_ladder_from_real_trades_live_and_after_reload(
        web_stack: StackHandle, page: Any) -> None:
    maker, taker = Trader(web_stack, "web-maker"), Trader(web_stack, "web-taker")
    placed = [maker.place(SYMBOL, "SELL", 1, price) for price in ("100.50", "101.00", "101.50")]
    placed += [taker.place(SYMBOL, "BUY", 1, "101.50") for _ in range(3)]  # three trades
    placed += [maker.place(SYMBOL, side, qty, price) for side, qty, price in (
        ("SELL", 3, "103.00"), ("SELL", 4, "104.00"), ("BUY", 2, "99.00"), ("BUY", 5, "98.00"))]
    wait_until_matched(web_stack, [o["orderId"] for o in placed])
    deadline = time.monotonic() + 20  # GET /trades reads an index: eventually consistent
    while len(taker.http.get(f"/trades?symbol={SYMBOL}").json()["items"]) < 3:
        assert time.monotonic() < deadline, "trades never reached the index"
        time.sleep(0.3)

    _sign_in(page, web_stack.url)
    assert page.get_attribute("#conn", "data-state") == "live"
    # Recent trades loaded on open (GET /trades), drawn on the chart.
    _wait_js(page, "document.querySelectorAll('#tape tbody tr').length >= 3")
    _wait_js(page, "Number(document.getElementById('price-chart').dataset.points) >= 3")
    assert page.query_selector("#price-chart canvas") is not None
    assert [row.split("\t")[2] for row in page.inner_text("#tape tbody").splitlines()[:3]] == [
        "101.50", "101.00", "100.50"]
    # The ladder: asks above bids, cumulative size from the touch outwards, bars to scale.
    ladder = _ladder(page)
    assert [(side, price, cum) for side, price, cum, _ in ladder] == [
        ("ask", "104.00", 7), ("ask", "103.00", 3), ("bid", "99.00", 2), ("bid", "98.00", 7)]
    assert ladder[0][3] == 100.0 and ladder[3][3] == 100.0 and 40 < ladder[1][3] < 45

    # Live: my order from the ticket (IOC, STP chosen) takes the 103.00 level.
    page.select_option("#side", "BUY")
    page.fill("#qty", "2")
    page.fill("#price", "103.00")
    page.select_option("#tif", "IOC")
    page.select_option("#stp", "cancelOldest")
    page.click("#submit")
    _wait_js(page, "[...document.querySelectorAll('#orders tbody tr')]"
                   ".some((tr) => tr.dataset.status === 'FILLED')")
    _wait_js(page, "document.querySelectorAll('#tape tbody tr').length >= 4")
    _wait_js(page, "Number(document.getElementById('price-chart').dataset.points) >= 4")
    _wait_js(page, "[...document.querySelectorAll('#fills tbody tr')]"
                   ".some((tr) => tr.innerText.includes('taker'))")
    assert [(side, price, cum) for side, price, cum, _ in _ladder(page)][:2] == [
        ("ask", "104.00", 5), ("ask", "103.00", 1)]
    assert "103.00" in page.inner_text("#last-price")
    page.screenshot(path=str(ARTIFACTS / "realtime-chart-ladder.png"), full_page=True)

    # Reload: the token is kept for the tab, and the trades panel is filled again from GET /trades.
    page.reload()
    page.wait_for_function("window.tulip.state.live === true", timeout=20_000)
    _wait_js(page, "document.querySelectorAll('#tape tbody tr').length >= 4")
    _wait_js(page, "Number(document.getElementById('price-chart').dataset.points) >= 4")
    assert page.inner_text("#tape tbody").splitlines()[0].split("\t")[2] == "103.00"
    assert page.is_visible("#app") and not page.is_visible("#signin")
    page.screenshot(path=str(ARTIFACTS / "realtime-after-reload.png"), full_page=True)
    assert page.console_errors == []


@pytest.mark.parametrize(("path", "ready"), [("/api/docs", ".swagger-ui .info .title"),
                                             ("/api/redoc", "redoc h1")],
                         ids=["swagger-ui", "redoc"])
def test_api_docs_render_from_the_service_itself(web_stack: StackHandle, page: Any, path: str,
                                                 ready: str) -> None:
    """Swagger UI and ReDoc load only from this origin (drf-spectacular-sidecar): no CDN, no web
    fonts, so they render on a machine without internet and log no error."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(web_stack.url + path)
    page.wait_for_selector(ready, timeout=20_000)
    assert "TulipBroker API" in page.inner_text(ready)
    local = (web_stack.url, "data:", f"blob:{web_stack.url}")  # ReDoc's worker is a blob: URL
    assert requested and all(url.startswith(local) for url in requested), requested
    page.screenshot(path=str(ARTIFACTS / f"api-{path.rsplit('/', 1)[1]}.png"))
    assert page.console_errors == []
