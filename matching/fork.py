"""Where a new leadership continues a shard's history after a failover (docs/architecture.md,
"Regions", "Torn commits").

Global Tables replicate item by item, not transaction by transaction, and each table on its own.
When the leader region is lost, its last commits may have reached the new leader torn: the shard
item, trades and event pages (trades table) without the order updates of the same commit (orders
table), or the reverse. A new epoch continuing after the shard item's lastSeq would then match
orders at states older than the history it continues: a maker the history says is filled still
resting in the book, filled a second time.

So a region taking a shard from another leadership starts the new epoch after the FORK POINT: the
highest seq up to which this replica holds the whole history, every event present and every
order an event changed at least that far along (its `seq`), or closed by a commit. What came after
the fork point stays in the replica as the old epoch's off-chain tail: kept, not served, and
reconciled like any deposed leader's un-replicated commits. Pure: the storage reads the window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from matching.engine import SIM_CLIENT_ID
from tulip.schema import CANCELLED, FILLED

# The events read back from the shard's lastSeq to look for torn commits: replication's lag at the
# moment the leader was lost must be shorter than this many events (at the measured throughput of
# one shard, several seconds; ReplicationLatency alarms long before). Bounds the read (TigerStyle).
FORK_WINDOW_EVENTS = 5_000
CLOSED = frozenset({FILLED, CANCELLED})


@dataclass(frozen=True, slots=True)
class OrderMark:
    """What the replica holds of an order: how far along the history it is, whether closed, and
    whether it still rests on the book's index (`openSort`): a CANCELLED order that still rests
    is its owner's cancel, written by POST /cancel and not yet sequenced by any commit."""

    seq: int
    status: str
    resting: bool = False


def changed_orders(event: Mapping[str, Any]) -> list[str]:
    """The orders whose items the commit of `event` wrote (matching/services.py `_writes`):
    trades' real legs, openings, every cancel (sequencing a user's cancel sets the order's seq and
    takes it off the book's index) and rejections. A refused cancel wrote nothing."""
    payload = event.get("payload") or {}
    if isinstance(payload, str):
        payload = json.loads(payload)
    kind = event.get("type")
    if kind == "TradeExecuted":
        return [payload[f"{leg}OrderId"] for leg in ("maker", "taker")
                if payload.get(f"{leg}ClientId") != SIM_CLIENT_ID]
    if kind in ("OrderOpened", "OrderRejected", "OrderCancelled"):
        return [payload["orderId"]]
    if kind == "Reconciled":
        return list(payload.get("cancels") or ())
    return []


def fork_point(last_seq: int, floor: int, events: Iterable[Mapping[str, Any]],
               orders: Mapping[str, OrderMark]) -> int:
    """The highest seq F (floor <= F <= last_seq) such that every seq in (floor, F] has its
    event in `events` (the canonical events read back from last_seq, any order) and every order
    those events changed is at least that far along in `orders` (absent: not replicated)."""
    assert 0 <= floor <= last_seq, (floor, last_seq)
    assert last_seq - floor <= FORK_WINDOW_EVENTS, "the caller bounds the window"
    present: dict[int, Mapping[str, Any]] = {}
    for event in events:
        seq = int(event["seq"])
        if floor < seq <= last_seq:
            present[seq] = event
    for seq in range(floor + 1, last_seq + 1):
        found = present.get(seq)
        if found is None or not all(_reflects(orders.get(o), seq) for o in changed_orders(found)):
            return seq - 1
    return last_seq


def _reflects(mark: OrderMark | None, seq: int) -> bool:
    # An order a commit closed reflects every earlier event: each table's stream is applied in
    # order, so the write that closed it arrived after the ones before it. Not one its owner
    # cancelled that still rests: without the commit that sequenced the cancel, the rebuild
    # takes it for a cancel still to sequence, and the new epoch would sequence it a second time.
    return mark is not None and (mark.seq >= seq or (mark.status in CLOSED and not mark.resting))
