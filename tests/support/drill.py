"""The region drill (docs/reliability.md, docs/runbooks/region-failover.md) on the local stack:
two regions, traders submitting through the SDK to both, a partition, the automatic failover,
more trading on the new leader, the heal, a reconciliation; then the checks that must hold after
any split: zero double fills, seq gap-free per (shard, epoch), every acknowledged order present
in both regions (or closed by a Reconciled compensation), both regions' ledgers equal.

Shared by tests/e2e/ops/test_region_drill.py (small) and `make drill` (large, with figures)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tulip_client import ApiError, Backoff, TulipClient

from tests.support.stack import StackHandle, start_stack
from tulip import event_pages
from tulip.epochs import EpochStart, canonical
from tulip.schema import EventPageItem

REPO = Path(__file__).resolve().parents[2]
EAST, WEST = "us-east-1", "us-west-2"
WITNESS = "eu-west-1"  # a third region: what lets synchronous replication survive losing one
FAST = {"MATCHER_LEASE_TTL_S": "2", "STEP_DOWN_AFTER_S": "3", "FAILOVER_AFTER_S": "6",
        "SWEEPER_INTERVAL_S": "1", "SWEEPER_MIN_AGE_S": "2"}


@dataclass
class Acked:
    order_id: str
    client: str
    region: str  # where the trader sent it
    status: int
    provisional: bool


@dataclass
class DrillRun:
    handle: StackHandle
    symbol: str
    regions: tuple[str, ...] = (EAST, WEST)
    acked: list[Acked] = field(default_factory=list)
    failed_submits: int = 0
    timeline: dict[str, float] = field(default_factory=dict)

    def url(self, region: str) -> str:
        return self.handle.stack.http_urls[region]

    def manage(self, region: str, *args: str, findings_ok: bool = False) -> str:
        """A management command in `region`; `reconcile` exits 1 when it reports findings,
        which `findings_ok` accepts (its output says which)."""
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO,
                                env=self.handle.stack.region_envs[region], capture_output=True,
                                text=True, timeout=300, check=False)
        accepted = (0, 1) if findings_ok else (0,)
        assert result.returncode in accepted, \
            f"manage.py {args}: {result.stderr[-2000:]}{result.stdout[-2000:]}"
        return result.stdout

    def region(self, region: str) -> dict[str, Any]:
        try:
            body: dict[str, Any] = httpx.get(f"{self.url(region)}/region", timeout=5).json()
            return body
        except (httpx.HTTPError, ValueError):
            return {}


def start(tmp_path: Path, symbol: str, extra_env: dict[str, str] | None = None,
          regions: tuple[str, ...] = (EAST, WEST)) -> DrillRun:
    handle = start_stack(tmp_path / "stack", regions=regions, symbols=symbol,
                         extra_env={**FAST, **(extra_env or {})})
    return DrillRun(handle, symbol, regions)


def client(run: DrillRun, home: str, sub: str) -> TulipClient:
    token = run.handle.forge_token(sub=sub)
    endpoints = [run.url(home)] + [run.url(r) for r in run.regions if r != home]
    return TulipClient(endpoints, token, retries=3, timeout_s=10,
                       backoff=Backoff(base_s=0.1, cap_s=0.5))


def submit(run: DrillRun, trader: TulipClient, sub: str, side: str, qty: int, price: str,
           deadline_s: float = 60.0) -> None:
    """One order, retried with the same key until some region acknowledges it (a trader's
    behaviour): a failover in between is absorbed by the SDK's re-pinning and these retries."""
    key = f"drill-{uuid.uuid4().hex}"
    region = trader.base_url
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            order = trader.place_order(side, qty, price, symbol=run.symbol, idempotency_key=key)
        except ApiError as exc:
            if exc.status not in (0, 503):
                raise
            run.failed_submits += 1
            time.sleep(0.3)
            continue
        run.acked.append(Acked(order["orderId"], sub, region, 200, bool(order.get("provisional"))))
        return
    raise AssertionError(f"no region acknowledged {key} within {deadline_s:.0f}s")


def trade(run: DrillRun, traders: list[tuple[TulipClient, str]], count: int,
          between: Callable[[int], None] | None = None) -> None:
    """Alternating resting sells and crossing buys, the traders taking turns."""
    for index in range(count):
        trader, sub = traders[index % len(traders)]
        side = "SELL" if index % 2 == 0 else "BUY"
        price = f"{100 + index % 5}.00" if side == "SELL" else "104.00"
        submit(run, trader, sub, side, 1 + index % 3, price)
        if between is not None:
            between(index)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


# ---------------------------------------------------------------------- the checks
def items(run: DrillRun, region: str) -> list[dict[str, Any]]:
    ddb = run.handle.stack.boto("dynamodb", region)
    found: list[dict[str, Any]] = []
    for table in (run.handle.env["ORDERS_TABLE"], run.handle.env["TRADES_TABLE"]):
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        for _ in range(10_000):
            page = ddb.scan(**kwargs)
            found.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found


def state_hash(run: DrillRun, region: str) -> str:
    line = run.manage(region, "state_hash").strip().splitlines()[-1]
    digest: str = json.loads(line)["stateHash"]
    return digest


def assert_converged_and_sound(run: DrillRun) -> dict[str, Any]:
    """The drill's verdict; returns the figures for docs/reliability.md."""
    wait_for(lambda: len({state_hash(run, region) for region in run.regions}) == 1, 90,
             "every region's ledger converges to one state hash")
    everything = {region: items(run, region) for region in run.regions}
    orders = {region: {i["orderId"]["S"]: i for i in found if i["pk"]["S"].startswith("ORDER#")}
              for region, found in everything.items()}
    compensated = 0
    for ack in run.acked:
        for region in run.regions:
            assert ack.order_id in orders[region], f"acked order {ack.order_id} lost in {region}"
        reason = orders[WEST][ack.order_id].get("cancelReason", {}).get("S")
        compensated += reason == "reconciled"
    trades = [i for i in everything[WEST] if i["pk"]["S"].startswith("TRADE#")]
    pages = [EventPageItem.from_raw_data(i) for i in everything[WEST]
             if i["pk"]["S"].startswith(EventPageItem.PREFIX + run.symbol)]
    epochs = [EpochStart(int(i["epoch"]["N"]), int(i["parent"]["N"]), int(i["startSeq"]["N"]))
              for i in everything[WEST] if i["pk"]["S"].startswith("EPOCHS#" + run.symbol)]
    chain = canonical(epochs)
    _assert_gap_free_per_epoch(pages)
    filled: dict[str, int] = defaultdict(int)
    divergent = 0
    for trade_item in trades:
        epoch = int(trade_item.get("epoch", {"N": "0"})["N"])
        if not chain.covers(epoch, int(trade_item["seq"]["N"])):
            divergent += 1
            continue
        for leg in ("buyOrderId", "sellOrderId"):
            filled[trade_item[leg]["S"]] += int(trade_item["qty"]["N"])
    for order_id, order in orders[WEST].items():
        assert filled[order_id] <= int(order["qty"]["N"]), f"double fill on {order_id}"
    return {"acked": len(run.acked), "provisional": sum(a.provisional for a in run.acked),
            "compensated": compensated, "divergentTrades": divergent,
            "canonicalTrades": len(trades) - divergent, "epochs": len(epochs),
            "failedSubmits": run.failed_submits, **run.timeline}


def _assert_gap_free_per_epoch(pages: list[EventPageItem]) -> None:
    by_epoch: dict[int, list[int]] = defaultdict(list)
    for page in pages:
        by_epoch[page.epoch or 0].extend(e["seq"] for e in event_pages.decode(page))
    for epoch, seqs in by_epoch.items():
        seqs.sort()
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"gap in epoch {epoch}"
