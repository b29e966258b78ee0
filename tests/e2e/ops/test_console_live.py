"""The ops console's live screens against a full local stack (worker, matcher, the projector that
drives chaos experiments; supervised as `make run` is), in headless Debian Chromium: the SLO
dashboard charts every TulipBroker metric against its limit; a chaos experiment (injected
latency) is ended early by its SLO stop condition and reverted, its timeline drawn over the
charts, the invariant counters shown beside it; a finding is reviewed and signed off, with links
to the orders, trades and events it names. Each fails on any console error and keeps a screenshot
under test-artifacts/. The stop-a-matcher experiment runs over plain HTTP."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.provision import DEMO_PASSWORD
from tests.e2e.ops.conftest import REPO, admin_login, manage
from tests.integration.ops.ledger_plant import Planter, consistent_ledger, new_symbol
from tests.support.stack import StackHandle, start_stack
from tests.support.trading import Trader
from tulip import drills

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts"
METRICS = 8  # ops/metrics_export.py SLO_NAMES


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    handle = start_stack(Path(tmp_path_factory.mktemp("console-live")), supervise=True,
                         symbols="OPS")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium missing: run scripts/install-browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def ops_page(live_stack: StackHandle, chromium: Any) -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    page = chromium.new_page(viewport={"width": 1500, "height": 1000})
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda exc: page.console_errors.append(f"pageerror: {exc}"))
    page.goto(f"{live_stack.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    try:
        yield page
    finally:
        page.close()


def _traffic(stack: StackHandle, stop: threading.Event) -> threading.Thread:
    """Bounded background requests (loopback only) so the latency SLOs have samples."""
    def run() -> None:
        with httpx.Client(base_url=stack.url, timeout=30) as client:
            for _ in range(3000):
                if stop.is_set():
                    return
                with contextlib.suppress(httpx.HTTPError):
                    client.get("/healthz")
                time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.browser
def test_slo_dashboard_charts_every_metric_against_its_limit(live_stack: StackHandle,
                                                             ops_page: Any) -> None:
    trader = Trader(live_stack, "dash")
    for price in ("10.00", "10.01"):
        trader.place("OPS", "BUY", 1, price)
    for _ in range(2):
        for _ in range(20):
            trader.http.get("/book?symbol=OPS")
        published = manage(live_stack, "publish_metrics")
        assert published.returncode == 0, published.stderr
        time.sleep(1.1)
    ops_page.goto(f"{live_stack.url}/admin/ops/metricsample/")
    ops_page.wait_for_function(
        f"document.querySelectorAll('.slo-chart canvas').length === {METRICS}", timeout=15_000)
    names = ops_page.eval_on_selector_all(".slo-chart", "els => els.map((e) => e.dataset.metric)")
    assert sorted(names) == sorted(["Http5xxRate", "LatencyP50", "LatencyP95", "LatencyP99",
                                    "EventLag", "WSDisconnectRate", "DoubleFillViolations",
                                    "ReplicationLatency"])
    points = int(ops_page.get_attribute('.slo-chart[data-metric="LatencyP95"]', "data-points"))
    assert points >= 2
    assert "limit 250" in ops_page.inner_text('.slo-chart[data-metric="LatencyP95"] h3')
    ops_page.screenshot(path=str(ARTIFACTS / "ops-slo-dashboard.png"), full_page=True)

    ops_page.goto(f"{live_stack.url}/admin/ops/regionstate/")
    assert ops_page.inner_text("#role") == "leader" and ops_page.inner_text("#term") == "1"
    shards = ops_page.inner_text("#shard-table")
    assert "OPS" in shards and "matcher-1" in shards
    ops_page.screenshot(path=str(ARTIFACTS / "ops-region-state.png"), full_page=True)
    assert ops_page.console_errors == []


@pytest.mark.browser
def test_chaos_experiment_is_stopped_by_its_slo_condition(live_stack: StackHandle,
                                                          ops_page: Any) -> None:
    ops_page.goto(f"{live_stack.url}/admin/ops/chaosexperiment/")
    ops_page.wait_for_function("document.getElementById('inv-doubleFills').textContent === '0'",
                               timeout=20_000)
    ops_page.select_option("#kind", "inject_latency")
    ops_page.fill("#ms", "600")
    ops_page.fill("#duration_s", "300")
    assert ops_page.is_checked("#use_LatencyP95") and ops_page.input_value("#limit_LatencyP95") == "250.0"
    ops_page.click("#chaos-start")
    ops_page.wait_for_selector('#chaos-status[data-status="running"]', timeout=15_000)
    stop = threading.Event()
    started = time.monotonic()
    thread = _traffic(live_stack, stop)
    try:
        ops_page.wait_for_selector('#chaos-status[data-status="stopped_by_condition"]',
                                   timeout=90_000)
    finally:
        stop.set()
        thread.join(30)
    assert time.monotonic() - started < 90  # long before its 300 s
    reason = ops_page.inner_text("#chaos-reason")
    assert re.search(r"LatencyP95 [\d.]+ Milliseconds > 250", reason), reason
    timeline = ops_page.inner_text("#chaos-timeline")
    assert "injectLatencyMs = 600" in timeline and "reverted: injectLatencyMs" in timeline
    for name in ("doubleFills", "seqGaps", "lostAcks"):
        assert ops_page.inner_text(f"#inv-{name}") == "0"
    # Reverted: requests are fast again (the flag cache lives 1 s per process).
    time.sleep(1.5)
    with live_stack.http() as client:
        began = time.monotonic()
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - began < 0.5
    # The experiment is drawn over the SLO charts (the dashboard's data names it).
    data = json.loads(ops_page.evaluate(
        "fetch('/admin/ops/metricsample/data/?minutes=10').then((r) => r.text())"))
    drawn = [e for e in data["experiments"] if e["status"] == "stopped_by_condition"]
    assert drawn and drawn[-1]["kind"] == "inject_latency" and drawn[-1]["timeline"]
    p95 = next(m for m in data["metrics"] if m["name"] == "LatencyP95")
    assert any(value > 250 for _, value in p95["points"])
    ops_page.wait_for_timeout(2500)  # the charts redraw every 2 s
    ops_page.screenshot(path=str(ARTIFACTS / "ops-chaos-stopped.png"), full_page=True)
    assert ops_page.console_errors == []


def test_stop_matcher_experiment_is_restarted_by_the_supervisor(live_stack: StackHandle) -> None:
    cfg_dir = live_stack.stack.options.state_dir
    before = json.loads((cfg_dir / drills.CHILDREN_FILE).read_text())["children"]["matcher-1"]
    client = admin_login(live_stack, "ops", DEMO_PASSWORD)
    panel = client.get("/admin/ops/chaosexperiment/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', panel.text)
    assert token, panel.text[:500]
    answer = client.post("/admin/ops/chaosexperiment/start/", data={
        "csrfmiddlewaretoken": token.group(1), "kind": "stop_matcher", "process": "matcher-1",
        "duration_s": "8"}, headers={"Referer": f"{live_stack.url}/admin/ops/chaosexperiment/"})
    assert answer.status_code == 302
    deadline = time.monotonic() + 30
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = client.get("/admin/ops/chaosexperiment/status/").json()
        if status["experiments"] and status["experiments"][0]["status"] != "running":
            break
        time.sleep(0.5)
    experiment = status["experiments"][0]
    assert (experiment["kind"], experiment["status"]) == ("stop_matcher", "completed"), experiment
    assert experiment["params"] == {"process": "matcher-1", "pid": before}
    after = json.loads((cfg_dir / drills.CHILDREN_FILE).read_text())["children"]["matcher-1"]
    assert after != before  # the supervisor started a new one
    lines = [t["what"] for t in experiment["timeline"]]
    assert any(f"killed matcher-1 (pid {before}" in line for line in lines)
    assert any("running again as pid" in line for line in lines), lines
    # The killed process's lease names it until it runs out: wait for the new one's take.
    deadline = time.monotonic() + 30
    rows = live_stack.stack.shard_holders()
    while not (rows[0]["holder"] or "").endswith(f":{after}") and time.monotonic() < deadline:
        time.sleep(0.3)
        rows = live_stack.stack.shard_holders()
    assert rows[0]["process"] == "matcher-1" and rows[0]["holder"].endswith(f":{after}"), rows
    client.close()


@pytest.mark.browser
def test_finding_is_signed_off_with_links_to_what_it_names(live_stack: StackHandle,
                                                           ops_page: Any) -> None:
    planter = Planter(live_stack)
    symbol = new_symbol()
    ledger = consistent_ledger(planter, symbol)
    buyer = planter.order(symbol, "BUY", 9, "FILLED", filled=9)
    trade = planter.trade(symbol, 3, 9, buyer, ledger.sell)
    planter.shard(symbol, 3)
    fixed = manage(live_stack, "reconcile", "--symbol", symbol, "--fix")
    assert fixed.returncode in (0, 1), fixed.stderr

    ops_page.goto(f"{live_stack.url}/admin/ops/finding/?symbol={symbol}&kind=double_fill")
    ops_page.click("#result_list tbody tr th a")
    ops_page.wait_for_selector("#sign-off")
    links = ops_page.eval_on_selector_all(".field-order_links a", "els => els.map((a) => a.href)")
    assert any(f"/admin/ops/projectedorder/{ledger.sell}/change/" in href for href in links)
    trade_links = ops_page.eval_on_selector_all(".field-trade_links a", "els => els.map((a) => a.href)")
    assert any(f"/admin/ops/projectedtrade/{trade}/change/" in href for href in trade_links)
    change_url = ops_page.url
    ops_page.click("a.finding-events")
    ops_page.wait_for_selector("#finding-events")
    events = ops_page.inner_text("#finding-events")
    assert "Reconciled" in events  # the compensation --fix appended, carrying the finding's key
    ops_page.screenshot(path=str(ARTIFACTS / "ops-finding-events.png"), full_page=True)

    ops_page.goto(change_url)
    assert "fixed" in ops_page.inner_text("#sign-off").lower()
    ops_page.fill("#sign-off-note", "Compensated by Reconciled; the trades stay as history.")
    ops_page.click("#sign-off-submit")
    ops_page.wait_for_selector("#signed-off")
    assert "Signed off by ops" in ops_page.inner_text("#signed-off")
    ops_page.screenshot(path=str(ARTIFACTS / "ops-finding-signed-off.png"), full_page=True)
    ops_page.goto(f"{live_stack.url}/admin/ops/finding/?symbol={symbol}")
    assert ops_page.query_selector("#result_list td.field-signed_off img[alt='True']") is not None
    assert ops_page.console_errors == []
