"""The DynamoDB snapshot the checks run on (Django-free: the gate's Lambda uses it too)."""

from __future__ import annotations

from collections.abc import Iterable

from ops.checks import Snapshot, SymbolSnapshot
from ops.storage import OpsStorage
from tulip import clock
from tulip.config import Config


def _position(store: OpsStorage, symbol: str) -> tuple[int, int]:
    """(epoch, lastSeq) of the shard now; (0, 0) before any commit."""
    shard = store.shard(symbol)
    return (shard.epoch or 0, shard.last_seq) if shard is not None else (0, 0)


def _symbol_snapshot(store: OpsStorage, symbol: str, cutoff: str) -> SymbolSnapshot:
    """Read in the order that keeps a busy shard's snapshot consistent: the trades before the
    events (every trade read has its event), lastSeq before and after the events (the events
    committed in between are newer than the snapshot, not ahead of the shard). Why:
    docs/reliability.md, "Across regions: what the run found"."""
    trades = store.trades(symbol)
    epoch, before = _position(store, symbol)
    events = store.events(symbol)
    _, after = _position(store, symbol)
    events = [e for e in events if not (e.epoch == epoch and before < e.seq <= after)]
    return SymbolSnapshot(symbol, before, trades, events, store.accepted_before(symbol, cutoff),
                          store.chain(symbol))


def take_snapshot(cfg: Config, symbols: Iterable[str] | None, since: str | None,
                  unseen_age_s: float, store: OpsStorage | None = None) -> Snapshot:
    """The ledger as the checks see it. Scans are not a point in time, and the market keeps
    trading: each shard is read consistently with itself (_symbol_snapshot), then the orders,
    then the trades again and the chain of epochs (takes since may have grown it). A trade is
    never changed and is written in one transaction with its orders' filledQty: an order read
    between the two trade reads is consistent if its filledQty lies between what they add up
    to for it (ops.checks.fill_findings)."""
    store = store or OpsStorage(cfg)
    wanted = tuple(symbols) if symbols else ()
    cutoff = clock.iso_ago(unseen_age_s)  # tulip.clock: the seeded simulation's time too
    per_symbol = {s: _symbol_snapshot(store, s, cutoff) for s in wanted or cfg.symbols}
    cancels = store.cancels()  # before the orders: an order read later is at least as new
    if len(wanted) == 1:
        orders = store.orders(symbol=wanted[0], since=since)
    else:
        orders = [o for o in store.orders(since=since) if not wanted or o.symbol in wanted]
    if not wanted:  # also any symbol an order names (retired ones: nothing trades there)
        for symbol in sorted({o.symbol for o in orders if o.symbol} - set(per_symbol)):
            per_symbol[symbol] = _symbol_snapshot(store, symbol, cutoff)
    owners: dict[str, str | None] = {}
    counts: dict[str, int] = {}
    for order in orders:
        counts[order.idempotency_key] = counts.get(order.idempotency_key, 0) + 1
    for ik, count in counts.items():
        if ik and count > 1:
            owners[ik] = store.idempotency_owner(ik)
    for symbol, symbol_snapshot in per_symbol.items():
        symbol_snapshot.later_trades = store.trades(symbol)
        symbol_snapshot.later_chain = store.chain(symbol)  # after the trades: covers their epochs
    return Snapshot(orders, per_symbol, owners, partial_orders=bool(since or wanted),
                    cancels=cancels)
