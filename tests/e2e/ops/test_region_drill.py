"""Multi-region Model A end to end (docs/architecture.md, "Regions"; the larger run is `make
drill`): two regions, traders on both through the SDK, a partition, the automatic failover,
trading on the new leader, the heal and a reconciliation. Afterwards: zero double fills, seq
gap-free per (shard, epoch), every acknowledged order in both regions, one state hash; and a
planned failover under load that loses and compensates nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.support import drill
from tests.support.drill import EAST, WEST


def _planned_failover_unless_led(run: drill.DrillRun, region: str) -> None:
    """`failover --to region`, unless that region's monitor made it lead meanwhile: the look
    at /region and the command race, and the command then refuses with "already leads"."""
    try:
        run.manage(WEST, "failover", "--to", region)
    except AssertionError as exc:
        if "already leads" not in str(exc):
            raise


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
        # The cut-off leader may have committed a tail before it stepped down (how long depends
        # on the box: CI once found one): --fix compensates it, and the next run must be clean.
        print("reconcile --fix:", run.manage(WEST, "reconcile", "--fix", findings_ok=True))
        figures = drill.assert_converged_and_sound(run)
        print("drill figures", figures)
        assert figures["acked"] == 24 and figures["epochs"] >= 2
        drill.wait_for(lambda: "CLEAN" in run.manage(WEST, "reconcile", findings_ok=True), 30,
                       "a reconcile after the fix finds nothing")
    finally:
        run.handle.stop()


def test_planned_failover_under_load_loses_and_compensates_nothing(tmp_path: Path) -> None:
    run = drill.start(tmp_path, "RGB")
    try:
        east = drill.client(run, EAST, "c" * 8 + "-0000-4000-8000-000000000003")
        west = drill.client(run, WEST, "d" * 8 + "-0000-4000-8000-000000000004")

        def fail_over_midway(index: int) -> None:
            if index == 10:
                run.manage(EAST, "failover", "--to", WEST)

        drill.trade(run, [(east, "c"), (west, "d")], 24, between=fail_over_midway)
        drill.wait_for(lambda: run.region(EAST).get("leaderRegion") == WEST, 30, "handover")
        figures = drill.assert_converged_and_sound(run)
        assert figures["compensated"] == 0 and figures["divergentTrades"] == 0
        findings = run.manage(WEST, "reconcile", findings_ok=True)
        assert "divergent_commit" not in findings and "double_fill" not in findings, findings
        # A partition after the handover must not roll the old leader's replica back to its own
        # older writes (orders it accepted, since filled by the new leader; the term-1 record).
        before = _by_key(drill.items(run, EAST))
        run.manage(EAST, "partition", WEST, EAST)
        time.sleep(1.5)  # several replicator cycles; the monitors act only after 3 s
        after = _by_key(drill.items(run, EAST))
        changed = sorted(k for k in before if k[0].startswith(LEDGER) and before[k] != after.get(k))
        assert not changed, [(k, {f: (before[k].get(f), after.get(k, {}).get(f))
                                  for f in {*before[k], *after.get(k, {})}
                                  if before[k].get(f) != after.get(k, {}).get(f)}) for k in changed]
        # Fail back: the old leader's matchers consume its own queue again, whose SQS sequence
        # numbers say nothing next to the ones the other region's matchers recorded.
        run.manage(EAST, "heal")
        if run.region(WEST).get("leaderRegion") != EAST:  # its monitor may have failed over
            _planned_failover_unless_led(run, EAST)
        drill.wait_for(lambda: run.region(WEST).get("leaderRegion") == EAST, 30, "fail back")
        already = len(run.acked)
        drill.trade(run, [(east, "c"), (west, "d")], 6)
        fresh = {a.order_id for a in run.acked[already:]}
        drill.wait_for(lambda: not {i["orderId"]["S"] for i in drill.items(run, EAST)
                                    if i["pk"]["S"].startswith("ORDER#")
                                    and i["orderId"]["S"] in fresh
                                    and i["status"]["S"] == "ACCEPTED"}, 30,
                       "every order sent after the fail-back is matched")
    finally:
        run.handle.stop()


# What a partition alone must never change in a replica (monitors, membership and replication
# rows keep being written locally).
LEDGER = ("ORDER#", "IDEMP#", "TRADE#", "EVENTS#", "SHARD#", "EPOCHS#", "LEADER")


def _by_key(found: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Items by key, without the lease expiry: renewals replicated in the moment before the cut
    takes effect are not a rollback."""
    return {(i["pk"]["S"], i["sk"]["S"]): {f: v for f, v in i.items() if f != "leaseExpiresAt"}
            for i in found}


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
        east_sub = "e" * 8 + "-0000-4000-8000-000000000005"
        east_only = drill.client(run, EAST, east_sub)
        east_only.regions.endpoints = [run.url(EAST)]
        east_other = drill.client(run, EAST, "9" * 8 + "-0000-4000-8000-000000000007")
        east_other.regions.endpoints = [run.url(EAST)]
        west_only = drill.client(run, WEST, "f" * 8 + "-0000-4000-8000-000000000006")
        west_only.regions.endpoints = [run.url(WEST)]
        drill.trade(run, [(east_only, "e"), (west_only, "f")], 6)
        run.manage(EAST, "partition", EAST, WEST)
        time.sleep(1.0)  # replication is cut: what the leader commits now stays on its side
        drill.submit(run, east_only, "e", "SELL", 2, "100.00")
        tail_sell = run.acked[-1]
        drill.submit(run, west_only, "f", "BUY", 2, "100.00")  # provisional: no leader in sight
        drill.submit(run, east_other, "9", "BUY", 1, "103.00")  # trades on the old leader only
        drill.wait_for(lambda: run.region(WEST).get("role") == "leader", 30, "failover")
        # The new leader has never heard of the order the old one took after the cut: while it
        # cannot see that region, "no such order" is not final. 503 and retry, not a 404.
        headers = {"Authorization": f"Bearer {run.handle.forge_token(sub=east_sub)}"}
        cancel = httpx.post(f"{run.url(WEST)}/cancel", json={"orderId": tail_sell.order_id},
                            headers=headers, timeout=30)
        read = httpx.get(f"{run.url(WEST)}/order/{tail_sell.order_id}", headers=headers,
                         timeout=30)
        for answer in (cancel, read):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "unavailable"
            assert answer.headers["Retry-After"] == "1"
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
