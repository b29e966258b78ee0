"""Multi-region Model A end to end (docs/architecture.md, "Regions"; the larger run is `make
drill`): two regions, traders on both through the SDK, a partition, the automatic failover,
trading on the new leader, the heal and a reconciliation. Afterwards: zero double fills, seq
gap-free per (shard, epoch), every acknowledged order in both regions, one state hash.

Each drill has a file of its own: a file is the unit the test workers share out, and three
two-region drills in one file kept one worker busy for minutes after the other had finished."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support import drill
from tests.support.drill import EAST, WEST


def test_partition_failover_heal_reconcile(tmp_path: Path) -> None:
    run = drill.start(tmp_path, "RGA")
    try:
        east, west = drill.client(run, EAST, "a" * 8 + "-0000-4000-8000-000000000001"), \
            drill.client(run, WEST, "b" * 8 + "-0000-4000-8000-000000000002")
        traders = [(east, "a"), (west, "b")]
        drill.trade(run, traders, 12)  # the follower's submits are forwarded to the leader
        run.manage(EAST, "partition", EAST, WEST)
        cut = time.monotonic()
        run.timeline["failoverS"] = drill.wait_for(
            lambda: run.region(WEST).get("role") == "leader", 30, "the follower takes over")
        drill.trade(run, traders, 12)  # the SDK re-pins; retries reuse the idempotency key
        run.timeline["partitionS"] = time.monotonic() - cut
        run.manage(EAST, "heal")
        drill.wait_for(lambda: run.region(EAST).get("leaderRegion") == WEST, 30,
                       "the old leader finds itself a follower")
        assert run.region(EAST)["role"] == "follower" and run.region(WEST)["epoch"] == 2
        drill.wait_for(lambda: run.region(EAST).get("replicationLagMs", 10**6) < 2000, 60,
                       "replication catches up after the heal")
        run.manage(WEST, "reconcile", "--fix")
        figures = drill.assert_converged_and_sound(run)
        print("drill figures", figures)
        assert figures["acked"] == 24 and figures["epochs"] >= 2
    finally:
        run.handle.stop()
