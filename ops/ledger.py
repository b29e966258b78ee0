"""The DynamoDB snapshot the checks run on (Django-free: the gate's Lambda uses it too)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ops.checks import Snapshot, SymbolSnapshot
from ops.storage import OpsStorage
from tulip.clock import iso
from tulip.config import Config


def _last_seq(store: OpsStorage, symbol: str) -> int:
    shard = store.shard(symbol)
    return shard.last_seq if shard is not None else 0


def take_snapshot(cfg: Config, symbols: Iterable[str] | None, since: str | None,
                  unseen_age_s: float, store: OpsStorage | None = None) -> Snapshot:
    store = store or OpsStorage(cfg)
    wanted = tuple(symbols) if symbols else ()
    if len(wanted) == 1:
        orders = store.orders(symbol=wanted[0], since=since)
    else:
        orders = [o for o in store.orders(since=since) if not wanted or o.symbol in wanted]
    # Without --symbol: the configured symbols plus any symbol an order names (retired ones too).
    names = wanted or tuple(sorted(set(cfg.symbols) | {o.symbol for o in orders if o.symbol}))
    cutoff = iso(datetime.now(UTC) - timedelta(seconds=unseen_age_s))
    per_symbol = {
        s: SymbolSnapshot(s, _last_seq(store, s), store.trades(s), store.events(s),
                          store.accepted_before(s, cutoff), store.chain(s))
        for s in names}
    owners: dict[str, str | None] = {}
    counts: dict[str, int] = {}
    for order in orders:
        counts[order.idempotency_key] = counts.get(order.idempotency_key, 0) + 1
    for ik, count in counts.items():
        if ik and count > 1:
            owners[ik] = store.idempotency_owner(ik)
    return Snapshot(orders, per_symbol, owners, partial_orders=bool(since or wanted))


