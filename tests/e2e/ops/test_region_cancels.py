"""Two cancels across a region change, on real processes; the region chaos run found both lost
(tests/chaos/run.py --regions; docs/reliability.md, "Across regions: what the run found"). Slow
(a two-region stack each): `make test-chaos` runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import drill
from tests.support.drill import EAST, WEST

OWNER = "a1a1a1a1-0000-4000-8000-0000000000a1"
TAKER = "b2b2b2b2-0000-4000-8000-0000000000b2"
MAKER = "c3c3c3c3-0000-4000-8000-0000000000c3"


def _post(run: drill.DrillRun, region: str, sub: str, path: str, body: dict[str, Any]) -> httpx.Response:
    token = run.handle.forge_token(sub=sub)
    return httpx.post(f"{run.url(region)}{path}", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}"})


def _order(run: drill.DrillRun, region: str, order_id: str) -> dict[str, Any]:
    return next((i for i in drill.items(run, region) if i["pk"]["S"] == f"ORDER#{order_id}"), {})


def _events(run: drill.DrillRun, region: str) -> list[dict[str, Any]]:
    from tulip import event_pages

    return [e for i in drill.items(run, region) if i["pk"]["S"] == f"EVENTS#{run.symbol}"
            for e in event_pages.decode_item(i)]


def _resting_sell(run: drill.DrillRun) -> str:
    """A SELL resting on the leader (us-east-1), replicated to us-west-2."""
    answer = _post(run, EAST, OWNER, "/order", {"symbol": run.symbol, "side": "SELL", "qty": 2,
                                                "price": "100.00", "idempotencyKey": "rest-1"})
    assert answer.status_code == 201, answer.text
    order_id: str = answer.json()["orderId"]
    drill.wait_for(lambda: _order(run, WEST, order_id).get("status", {}).get("S") == "OPEN", 30,
                   "the resting order replicated as OPEN")
    return order_id


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_cancel_the_cut_off_leader_acknowledged_is_kept_or_compensated(tmp_path: Path) -> None:
    """The new leader never saw the cancel and fills the order; last writer wins. The deposed
    leader's OrderCancelled, off the canonical chain, is what reconciliation names."""
    run = drill.start(tmp_path, "KDA", extra_env={"STEP_DOWN_AFTER_S": "8",
                                                   "FAILOVER_AFTER_S": "12"})
    try:
        order_id = _resting_sell(run)
        run.manage(EAST, "partition", EAST, WEST)
        # The cut-off leader still leads for STEP_DOWN_AFTER_S: it acknowledges the cancel.
        cancel = _post(run, EAST, OWNER, "/cancel", {"orderId": order_id})
        assert cancel.status_code == 200, cancel.text
        drill.wait_for(lambda: run.region(WEST).get("role") == "leader", 60, "failover")
        # The new leader's replica still has the order open: a crossing buy fills it there.
        taker = drill.client(run, WEST, TAKER)
        taker.regions.endpoints = [run.url(WEST)]
        drill.submit(run, taker, TAKER, "BUY", 2, "100.00")
        drill.wait_for(lambda: _order(run, WEST, order_id).get("status", {}).get("S") == "FILLED",
                       60, "the new leader fills the order")
        run.manage(EAST, "heal")
        drill.wait_for(lambda: run.region(EAST).get("leaderRegion") == WEST, 60, "follows")
        drill.wait_for(lambda: run.region(EAST).get("replicationLagMs", 10**6) < 2000, 60,
                       "replication catches up")
        run.manage(WEST, "reconcile", "--fix", findings_ok=True)
        drill.wait_for(lambda: drill.state_hash(run, EAST) == drill.state_hash(run, WEST), 90,
                       "the regions converge")
        status = _order(run, WEST, order_id)["status"]["S"]
        compensated = any(order_id in [*e["payload"].get("orderIds", []),
                                       *e["payload"].get("cancels", [])]
                          for e in _events(run, WEST) if e["type"] == "Reconciled")
        # The owner was told "cancelled": the order stays cancelled, or a Reconciled event says
        # what became of that acknowledgement.
        assert status == "CANCELLED" or compensated, (status, compensated)
    finally:
        run.handle.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_cancel_queued_at_a_planned_failover_reaches_the_event_log(tmp_path: Path) -> None:
    """The CancelRequested is stranded in the old leader's queue; the new leader's book, rebuilt
    from its replica, finds the cancelled order still on the openOrders index and sequences the
    cancel itself."""
    run = drill.start(tmp_path, "KDB")
    try:
        order_id = _resting_sell(run)
        # The leader's matcher is down (a kill, a deploy) when the cancel comes: its
        # CancelRequested waits in the leader's queue, as it did in the chaos run.
        run.handle.stack.stop_child("matcher-1")
        cancel = _post(run, EAST, OWNER, "/cancel", {"orderId": order_id})
        assert cancel.status_code == 200, cancel.text
        run.manage(EAST, "failover", "--to", WEST)
        drill.wait_for(lambda: run.region(EAST).get("leaderRegion") == WEST, 60, "handover")
        # The new leader matches: a crossing pair of two other traders, below the cancelled order.
        maker, taker = drill.client(run, WEST, MAKER), drill.client(run, WEST, TAKER)
        for trader in (maker, taker):
            trader.regions.endpoints = [run.url(WEST)]
        drill.submit(run, maker, MAKER, "BUY", 1, "90.00")
        drill.submit(run, taker, TAKER, "SELL", 1, "90.00")
        drill.wait_for(lambda: any(e["type"] == "TradeExecuted" for e in _events(run, WEST)), 60,
                       "the new leader matches")

        def cancel_recorded() -> bool:
            return any(e["payload"].get("orderId") == order_id and e["type"] == "OrderCancelled"
                       for e in _events(run, WEST))

        # The owner's cancel is part of the market's history: its event takes the order off.
        drill.wait_for(cancel_recorded, 30, "the cancel's event on the new leader's chain")
    finally:
        run.handle.stop()
