"""Headless Chromium (Debian's, via scripts/install-browser.sh) logs into the ops console as `ops`,
opens the findings of a reconcile run with a planted double fill, and saves a screenshot under
test-artifacts/."""

from pathlib import Path

import pytest

from devstack.provision import DEMO_PASSWORD
from tests.e2e.ops.conftest import REPO
from tests.integration.ops.ledger_plant import Planter, consistent_ledger, new_symbol, run_manage

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.browser
def test_findings_page_in_chromium(console_stack):
    if not CHROMIUM.exists():
        pytest.fail("Chromium missing: run scripts/install-browser.sh")
    playwright = pytest.importorskip("playwright.sync_api")
    planter = Planter(console_stack)
    symbol = new_symbol()
    ledger = consistent_ledger(planter, symbol)
    buyer = planter.order(symbol, "BUY", 9, "FILLED", filled=9)
    planter.trade(symbol, 3, 9, buyer, ledger.sell)
    planter.shard(symbol, 3)
    assert run_manage(console_stack, "reconcile", "--symbol", symbol).returncode == 1

    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "ops-findings.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1700, "height": 800})
            page.goto(f"{console_stack.url}/admin/login/?next=/admin/ops/finding/")
            page.fill("#id_username", "ops")
            page.fill("#id_password", DEMO_PASSWORD)
            page.click("input[type=submit]")
            page.goto(f"{console_stack.url}/admin/ops/finding/?symbol={symbol}")
            body = page.inner_text("#result_list")
            assert "double_fill" in body and ledger.sell in body
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
