"""The split's leftovers after a partition (docs/architecture.md, "Regions"): the deposed leader's
un-replicated tail and a follower's provisional orders are found and compensated by
reconciliation, and both regions converge."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support import drill
from tests.support.drill import EAST, WEST


def test_a_deposed_leaders_tail_and_provisional_orders_are_reconciled(tmp_path: Path) -> None:
    """The split's leftovers: the old leader matches a crossing pair in the seconds before it
    steps down, which never reaches the new leader (asynchronous replication); the follower,
    unable to reach the leader, takes an order provisionally (acceptWhenLeaderDown). After the
    heal the tail is off the canonical chain, found and compensated, the provisional order was
    matched by the new leader, and both regions agree."""
    run = drill.start(tmp_path, "RGC", extra_env={
        "FEATURE_FLAGS": '{"acceptWhenLeaderDown": true}', "STEP_DOWN_AFTER_S": "8",
        "FAILOVER_AFTER_S": "12"})
    try:
        east_only = drill.client(run, EAST, "e" * 8 + "-0000-4000-8000-000000000005")
        east_only.regions.endpoints = [run.url(EAST)]
        east_other = drill.client(run, EAST, "9" * 8 + "-0000-4000-8000-000000000007")
        east_other.regions.endpoints = [run.url(EAST)]
        west_only = drill.client(run, WEST, "f" * 8 + "-0000-4000-8000-000000000006")
        west_only.regions.endpoints = [run.url(WEST)]
        drill.trade(run, [(east_only, "e"), (west_only, "f")], 6)
        run.manage(EAST, "partition", EAST, WEST)
        time.sleep(1.0)  # replication is cut: what the leader commits now stays on its side
        drill.submit(run, east_only, "e", "SELL", 2, "100.00")
        drill.submit(run, west_only, "f", "BUY", 2, "100.00")  # provisional: no leader in sight
        drill.submit(run, east_other, "9", "BUY", 1, "103.00")  # trades on the old leader only
        drill.wait_for(lambda: run.region(WEST).get("role") == "leader", 30, "failover")
        drill.trade(run, [(west_only, "f")], 4)
        run.manage(EAST, "heal")
        drill.wait_for(lambda: run.region(EAST).get("leaderRegion") == WEST, 30, "old leader follows")
        drill.wait_for(lambda: run.region(EAST).get("replicationLagMs", 10**6) < 2000, 60,
                       "replication catches up after the heal")
        findings = run.manage(WEST, "reconcile", "--fix", findings_ok=True)
        assert "divergent_commit" in findings and "NOT FIXED: divergent" not in findings, findings
        figures = drill.assert_converged_and_sound(run)
        print("drill figures", figures)
        assert figures["provisional"] >= 1 and figures["divergentTrades"] >= 1
        after = run.manage(WEST, "reconcile", findings_ok=True)
        assert "divergent_commit" not in after and "double_fill" not in after, after
    finally:
        run.handle.stop()
