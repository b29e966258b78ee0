"""The region drill at size (`make drill`; docs/reliability.md): for asynchronous and synchronous
replication, a leader and followers, traders on each, the leader cut off from every other region,
the automatic failover, trading on the new leader, the heal, a reconciliation, and the same checks
as the small drill in `make test` (tests/e2e/ops/test_region_drill.py). Prints, per mode:

- accept latency (client-side p50/p95 of POST /order at the leader, before the cut): what
  synchronous replication costs;
- RTO: from the cut (the partition file's write) to the first order accepted AND matched by the
  new leader;
- RPO: acknowledged orders later compensated by the reconciliation (the deposed leader's
  un-replicated tail), and acknowledged orders lost (must be 0).

Asynchronous runs two regions. Synchronous runs three: with two, the surviving region cannot have
any write confirmed by another while the old leader is cut off (AWS's strongly consistent Global
Tables need a third region, a replica or a witness, for the same reason).

Default timings (STEP_DOWN_AFTER_S=3, FAILOVER_AFTER_S=6, lease TTL 5 s) unless --fast.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from tulip_client import ApiError

from tests.support import drill
from tests.support.drill import EAST, WEST, WITNESS
from tulip.drills import FILE as PARTITIONS_FILE

LATENCY_SAMPLES = 60
DEFAULT_TIMINGS = {"MATCHER_LEASE_TTL_S": "5", "STEP_DOWN_AFTER_S": "3", "FAILOVER_AFTER_S": "6"}


def _accept_latencies(run: drill.DrillRun, count: int) -> list[float]:
    token = run.handle.forge_token(sub="aaaaaaaa-0000-4000-8000-00000000aaaa")
    latencies = []
    with httpx.Client(timeout=30) as http:
        for index in range(count):
            started = time.perf_counter()
            answer = http.post(f"{run.url(EAST)}/order", headers={"Authorization": f"Bearer {token}"},
                               json={"symbol": run.symbol, "side": "SELL", "qty": 1,
                                     "price": f"{200 + index % 5}.00",
                                     "idempotencyKey": f"lat-{index}-{time.time_ns()}"})
            latencies.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 201, answer.text
    return latencies


def _trade_on_old_leader(run: drill.DrillRun, stop: threading.Event) -> None:
    """Crossing pairs straight at the leader, from before the cut until it refuses: under
    asynchronous replication what it acknowledged after the cut is its un-replicated tail."""
    seller = drill.client(run, EAST, "bbbbbbbb-0000-4000-8000-00000000bbbb")
    buyer = drill.client(run, EAST, "cccccccc-0000-4000-8000-00000000cccc")
    for trader in (seller, buyer):
        trader.regions.endpoints = [run.url(EAST)]
        trader.retries = 1
    for _ in range(100_000):
        if stop.is_set():
            return
        for trader, sub, side in ((seller, "b", "SELL"), (buyer, "c", "BUY")):
            try:
                order = trader.place_order(side, 1, "300.00", symbol=run.symbol)
            except ApiError:  # stepped down (503), or sync could not have it confirmed
                return
            run.acked.append(drill.Acked(order["orderId"], sub, run.url(EAST), 201,
                                         bool(order.get("provisional"))))


def one_drill(replication: str, orders: int, fast: bool) -> dict[str, Any]:
    env = {"REPLICATION": replication, **({} if fast else DEFAULT_TIMINGS)}
    regions = (EAST, WEST) if replication == "async" else (EAST, WEST, WITNESS)
    others = [r for r in regions if r != EAST]
    with tempfile.TemporaryDirectory() as tmp:
        run = drill.start(Path(tmp), "DRL", extra_env=env, regions=regions)
        try:
            latencies = _accept_latencies(run, LATENCY_SAMPLES)
            traders = [(drill.client(run, region, f"{digit * 8}-0000-4000-8000-{digit * 12}"),
                        digit) for region, digit in zip(regions, "de7", strict=False)]
            drill.trade(run, traders, orders // 2)
            stop = threading.Event()
            tail = threading.Thread(target=_trade_on_old_leader, args=(run, stop))
            tail.start()
            time.sleep(1.0)  # the leader is busy when it is cut off
            run.manage(EAST, "partition", EAST, *others)
            cut_wall = (run.handle.stack.options.state_dir / PARTITIONS_FILE).stat().st_mtime
            rto = _first_match_on_new_leader(run, cut_wall)
            stop.set()
            tail.join(60)
            drill.trade(run, traders, orders // 2)
            run.manage(EAST, "heal")
            drill.wait_for(lambda: run.region(EAST).get("leaderRegion") == WEST, 60, "follows")
            drill.wait_for(lambda: run.region(EAST).get("replicationLagMs", 10**6) < 2000, 120,
                           "replication catches up")
            run.manage(WEST, "reconcile", "--fix", findings_ok=True)
            figures = drill.assert_converged_and_sound(run)
            return {"replication": replication, "regions": len(regions),
                    "acceptP50": statistics.median(latencies),
                    "acceptP95": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
                    "rtoS": rto, **figures}
        finally:
            run.handle.stop()


def _first_match_on_new_leader(run: drill.DrillRun, cut_wall: float) -> float:
    """Seconds from the cut until a crossing pair sent to the follower is accepted and matched
    there as the new leader (retried every 300 ms until it is)."""
    seller = drill.client(run, WEST, "ffffffff-0000-4000-8000-00000000ffff")
    buyer = drill.client(run, WEST, "99999999-0000-4000-8000-000000009999")
    for trader in (seller, buyer):
        trader.regions.endpoints = [run.url(WEST)]
    drill.wait_for(lambda: run.region(WEST).get("role") == "leader", 120, "failover")
    drill.submit(run, seller, "f", "SELL", 1, "50.00")
    drill.submit(run, buyer, "9", "BUY", 1, "50.00")
    buy = run.acked[-1].order_id
    token = run.handle.forge_token(sub="99999999-0000-4000-8000-000000009999")
    drill.wait_for(lambda: httpx.get(f"{run.url(WEST)}/order/{buy}", timeout=5, headers={
        "Authorization": f"Bearer {token}"}).json().get("status") == "FILLED", 60, "matched")
    return time.time() - cut_wall


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.drill")
    parser.add_argument("--orders", type=int, default=200, help="orders traded around the cut")
    parser.add_argument("--fast", action="store_true", help="the test's short timings")
    parser.add_argument("--modes", default="async,sync", help="replication modes to drill")
    args = parser.parse_args()
    rows = [one_drill(mode, args.orders, args.fast) for mode in args.modes.split(",")]
    print("\n| replication | regions | accept p50 ms | accept p95 ms | RTO s | acked "
          "| compensated (RPO) | divergent trades | failed submits | acked lost |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['replication']} | {row['regions']} | {row['acceptP50']:.1f} | "
              f"{row['acceptP95']:.1f} | {row['rtoS']:.1f} | {row['acked']} | "
              f"{row['compensated']} | {row['divergentTrades']} | {row['failedSubmits']} | 0 |")


if __name__ == "__main__":
    main()
