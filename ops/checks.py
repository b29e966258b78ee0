"""The reconciliation checks, pure: a snapshot of DynamoDB in, findings out (no I/O, no Django), so
`manage.py reconcile`, the pipeline gate's Lambda and unit tests run the very same code.

A finding has a stable `key` naming the inconsistency *as observed* (order id plus the numbers
that disagree). `--fix` appends a `Reconciled` event carrying that key and the ids it names; a
later run treats a finding as resolved when canonical Reconciled events carrying its key named all
of its orders and trades. History stays as it was (trades are
never removed, gaps never back-filled); the Reconciled event is the ledger's record that ops
compensated. If the same order drifts further (another extra fill), the numbers, hence the key,
change and it is reported again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ops.storage import RECONCILED, EventRow
from tulip.epochs import Chain, canonical
from tulip.schema import CANCELLED, CancelItem, OrderItem, TradeItem

DOUBLE_FILL = "double_fill"
FILLED_QTY_MISMATCH = "filled_qty_mismatch"
DUPLICATE_IDEMPOTENCY = "duplicate_idempotency"
SEQ_GAP = "seq_gap"
SEQ_AHEAD = "seq_ahead"
ACCEPTED_UNSEEN = "accepted_unseen"
TRADE_WITHOUT_EVENT = "trade_without_event"
PROJECTION_MISMATCH = "projection_mismatch"
# Commits a deposed leader region made that the new leader never saw (asynchronous replication):
# off the shard's canonical chain of epochs (tulip/epochs.py), kept as history, compensated.
DIVERGENT_COMMIT = "divergent_commit"
# A cancel POST /cancel acknowledged (its CancelItem record) whose order is not CANCELLED: a later
# write of a region that never saw the cancel overtook it (replication's last writer wins).
CANCEL_OVERTAKEN = "cancel_overtaken"
KINDS = (DOUBLE_FILL, FILLED_QTY_MISMATCH, DUPLICATE_IDEMPOTENCY, SEQ_GAP, SEQ_AHEAD,
         ACCEPTED_UNSEEN, TRADE_WITHOUT_EVENT, PROJECTION_MISMATCH, DIVERGENT_COMMIT,
         CANCEL_OVERTAKEN)
# SimFill's simulated counterparty has no order item (tests/support/ledger.py says the same).
SIM_PREFIX = "sim:"


@dataclass(frozen=True, slots=True)
class FindingData:
    kind: str
    key: str
    symbol: str
    expected: str
    actual: str
    order_ids: tuple[str, ...] = ()
    trade_ids: tuple[str, ...] = ()
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "symbol": self.symbol,
                "expected": self.expected, "actual": self.actual,
                "orderIds": list(self.order_ids), "tradeIds": list(self.trade_ids),
                "detail": self.detail}


@dataclass
class SymbolSnapshot:
    symbol: str
    last_seq: int  # the shard's lastSeq (0: no shard item)
    trades: list[TradeItem]
    events: list[EventRow]
    accepted_unseen: list[OrderItem]
    chain: Chain = field(default_factory=lambda: canonical([]))
    # The trades read again after the orders, with the chain of epochs read after them
    # (ops/ledger.py): under trading an order may have fills newer than `trades`, made under an
    # epoch taken since; its filledQty is consistent anywhere between the two reads.
    later_trades: list[TradeItem] | None = None
    later_chain: Chain | None = None

    @property
    def canonical_trades(self) -> list[TradeItem]:
        return [t for t in self.trades if self.chain.covers(t.epoch, t.seq)]

    @property
    def canonical_events(self) -> list[EventRow]:
        return [e for e in self.events if self.chain.covers(e.epoch, e.seq)]


@dataclass
class Snapshot:
    orders: list[OrderItem]
    symbols: dict[str, SymbolSnapshot]
    # IK hash -> orderId of the idempotency record (the order the client was answered with)
    idempotency_owner: dict[str, str | None] = field(default_factory=dict)
    # True when orders were filtered (--since/--symbol): a trade for an order outside the filter
    # is then not a finding.
    partial_orders: bool = False
    # The acknowledged user cancels' records, read before the orders (ops/ledger.py).
    cancels: list[CancelItem] = field(default_factory=list)


def resolved_names(events: Iterable[EventRow]) -> dict[str, set[str]]:
    """Finding key -> the order and trade ids the Reconciled events carrying it named."""
    names: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event.type == RECONCILED:
            key = event.payload.get("findingKey")
            if isinstance(key, str):
                names[key].update(str(i) for field_name in ("orderIds", "tradeIds")
                                  for i in event.payload.get(field_name) or [])
    return names


def _resolved(finding: FindingData, names: dict[str, set[str]]) -> bool:
    """A compensation resolves what it named. A divergent commit's key names its epoch and
    events; the orders whose last state came from it arrive by replication, some only after
    the fix (seen in a region chaos run at size: an order a deposed leader cancelled, replicated
    after the epoch's Reconciled event was appended, was never compensated). Such an order
    reopens the finding; one that left it (cancelled by the compensation) does not."""
    named = names.get(finding.key)
    return named is not None and set(finding.order_ids) | set(finding.trade_ids) <= named


def fill_findings(snapshot: Snapshot) -> list[FindingData]:
    """No double fills (docs/rules.md): Σ trade qty per order leg ≤ qty, and == the order's
    filledQty, over the canonical trades (an off-chain trade is a divergent commit, reported on
    its own)."""
    filled: dict[str, int] = defaultdict(int)
    filled_later: dict[str, int] = defaultdict(int)
    trades_of: dict[str, list[str]] = defaultdict(list)
    for symbol_snapshot in snapshot.symbols.values():
        for trade in symbol_snapshot.canonical_trades:
            for leg in (trade.buy_order_id, trade.sell_order_id):
                filled[leg] += trade.qty
                trades_of[leg].append(trade.trade_id)
        later_chain = symbol_snapshot.later_chain or symbol_snapshot.chain
        for trade in symbol_snapshot.later_trades or ():  # none: the one read is the bound
            if later_chain.covers(trade.epoch, trade.seq):
                for leg in (trade.buy_order_id, trade.sell_order_id):
                    filled_later[leg] += trade.qty
    findings: list[FindingData] = []
    for order in snapshot.orders:
        if order.symbol not in snapshot.symbols:
            continue
        total = filled.get(order.order_id, 0)
        trade_ids = tuple(sorted(trades_of.get(order.order_id, [])))
        if total > order.qty:
            # The stronger finding; a mismatch on the same order is implied and not repeated.
            findings.append(FindingData(
                DOUBLE_FILL, f"{DOUBLE_FILL}:{order.order_id}:{total}", order.symbol,
                expected=f"sum(trade qty) <= qty {order.qty}", actual=f"sum(trade qty) = {total}",
                order_ids=(order.order_id,), trade_ids=trade_ids,
                detail=f"status {order.status}, filledQty {order.filled_qty}"))
        elif not total <= order.filled_qty <= max(total, filled_later.get(order.order_id, 0)):
            # Outside what the two trade reads allow (ops/ledger.py): a mismatch, not a fill
            # that landed between the reads.
            findings.append(FindingData(
                FILLED_QTY_MISMATCH,
                f"{FILLED_QTY_MISMATCH}:{order.order_id}:{total}:{order.filled_qty}", order.symbol,
                expected=f"filledQty = sum(trade qty) = {total}",
                actual=f"filledQty = {order.filled_qty}", order_ids=(order.order_id,),
                trade_ids=trade_ids, detail=f"status {order.status}, qty {order.qty}"))
    return findings


def idempotency_findings(snapshot: Snapshot) -> list[FindingData]:
    """Idempotency (docs/rules.md): one order per (clientId, idempotencyKey), i.e. per IK hash."""
    by_ik: dict[str, list[OrderItem]] = defaultdict(list)
    for order in snapshot.orders:
        if order.idempotency_key:
            by_ik[order.idempotency_key].append(order)
    findings: list[FindingData] = []
    for ik, group in sorted(by_ik.items()):
        if len(group) < 2:
            continue
        keeper = canonical_order(group, snapshot.idempotency_owner.get(ik))
        for duplicate in sorted(group, key=lambda o: (o.created_at, o.order_id)):
            if duplicate.order_id == keeper.order_id:
                continue
            findings.append(FindingData(
                DUPLICATE_IDEMPOTENCY, f"{DUPLICATE_IDEMPOTENCY}:{duplicate.order_id}",
                duplicate.symbol, expected=f"1 order for idempotency key {ik[:12]}…",
                actual=f"{len(group)} orders",
                order_ids=(keeper.order_id, duplicate.order_id),
                detail=f"keeps {keeper.order_id}; duplicate status {duplicate.status}"))
    return findings


def cancel_findings(snapshot: Snapshot) -> list[FindingData]:
    """Every cancel POST /cancel acknowledged left its order CANCELLED. The records are read
    before the orders, and CANCELLED is final, so an order read in another state was overtaken:
    compensated by cancelling it if it is still open, recorded by a Reconciled event if not."""
    orders = {o.order_id: o for o in snapshot.orders}
    findings: list[FindingData] = []
    for record in snapshot.cancels:
        order = orders.get(record.order_id)
        if order is None or order.status == CANCELLED or order.symbol not in snapshot.symbols:
            continue
        findings.append(FindingData(
            CANCEL_OVERTAKEN,
            f"{CANCEL_OVERTAKEN}:{order.order_id}:{order.status}:{order.filled_qty}", order.symbol,
            expected=f"CANCELLED (POST /cancel answered 200 in {record.region} at "
                     f"{record.cancelled_at})",
            actual=f"{order.status}, filledQty {order.filled_qty}", order_ids=(order.order_id,),
            detail="a write that never saw the cancel overtook it (last writer wins)"))
    return findings


def canonical_order(group: list[OrderItem], owner: str | None) -> OrderItem:
    """The order the idempotency record names (the one the client was answered with), else the
    oldest."""
    for order in group:
        if order.order_id == owner:
            return order
    return min(group, key=lambda o: (o.created_at, o.order_id))


def sequence_findings(symbol_snapshot: SymbolSnapshot) -> list[FindingData]:
    """Gap-free sequences (docs/rules.md): stored events are exactly seq 1..lastSeq of the shard."""
    symbol = symbol_snapshot.symbol
    seqs = sorted({e.seq for e in symbol_snapshot.canonical_events})
    last = symbol_snapshot.last_seq
    present = set(seqs)
    findings: list[FindingData] = []
    for lo, hi in _ranges(s for s in range(1, last + 1) if s not in present):
        findings.append(FindingData(
            SEQ_GAP, f"{SEQ_GAP}:{symbol}:{lo}-{hi}", symbol,
            expected=f"events {lo}..{hi} stored (lastSeq {last})",
            actual="missing" if lo == hi else f"{hi - lo + 1} events missing"))
    for lo, hi in _ranges(s for s in seqs if s > last or s < 1):
        findings.append(FindingData(
            SEQ_AHEAD, f"{SEQ_AHEAD}:{symbol}:{lo}-{hi}", symbol,
            expected=f"no event beyond lastSeq {last}", actual=f"events {lo}..{hi} stored",
            detail="the SHARD item is behind its events: needs a human (no automatic fix)"))
    return findings


def _ranges(values: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for value in values:
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], value)
        else:
            ranges.append((value, value))
    return ranges


def trade_event_findings(symbol_snapshot: SymbolSnapshot) -> list[FindingData]:
    """Every trade is in the event log as TradeExecuted at its seq (the replay source)."""
    executed = {(e.epoch, e.seq): e.payload.get("tradeId") for e in symbol_snapshot.events
                if e.type == "TradeExecuted"}
    findings: list[FindingData] = []
    for trade in sorted(symbol_snapshot.trades, key=lambda t: (t.epoch or 0, t.seq)):
        at = (trade.epoch or 0, trade.seq)
        if executed.get(at) != trade.trade_id:
            findings.append(FindingData(
                TRADE_WITHOUT_EVENT, f"{TRADE_WITHOUT_EVENT}:{trade.trade_id}", trade.symbol,
                expected=f"TradeExecuted {trade.trade_id} at seq {trade.seq}",
                actual="no such event" if at not in executed else
                f"TradeExecuted {executed[at]} at that seq",
                order_ids=(trade.buy_order_id, trade.sell_order_id), trade_ids=(trade.trade_id,)))
    return findings


def divergent_findings(symbol_snapshot: SymbolSnapshot,
                       orders: Iterable[OrderItem] = ()) -> list[FindingData]:
    """One finding per off-chain epoch: the events it committed past the point where the
    canonical history left it, the orders its trades touched or its user cancels took off, and
    the orders whose last state came from it (replicated after the fork, matching/fork.py);
    those still open are compensated."""
    chain = symbol_snapshot.chain
    by_epoch: dict[int, list[EventRow]] = defaultdict(list)
    for event in symbol_snapshot.events:
        if not chain.covers(event.epoch, event.seq):
            by_epoch[event.epoch].append(event)
    stale: dict[int, set[str]] = defaultdict(set)
    for order in orders:
        if (order.symbol == symbol_snapshot.symbol and order.epoch is not None
                and not chain.covers(order.epoch, order.seq or 0)):
            stale[order.epoch].add(order.order_id)
    findings: list[FindingData] = []
    for epoch in sorted(set(by_epoch) | set(stale)):
        events = by_epoch.get(epoch, [])
        seqs = [e.seq for e in events] or [0]
        first, last = min(seqs), max(seqs)
        trades = [t for t in symbol_snapshot.trades
                  if (t.epoch or 0) == epoch and not chain.covers(t.epoch, t.seq)]
        touched = {leg for t in trades for leg in (t.buy_order_id, t.sell_order_id)
                   if not leg.startswith(SIM_PREFIX)}
        # A user cancel the deposed leader sequenced (and so had acknowledged): the canonical
        # history may have filled the order since; naming it says what became of that answer,
        # and an order still open is cancelled, as its owner was told it was.
        touched |= {str(e.payload["orderId"]) for e in events
                    if e.type == "OrderCancelled" and e.payload.get("reason") == "user"}
        findings.append(FindingData(
            DIVERGENT_COMMIT, f"{DIVERGENT_COMMIT}:{symbol_snapshot.symbol}:{epoch}:{first}-{last}",
            symbol_snapshot.symbol, expected=f"epoch {epoch} on the canonical chain",
            actual=f"{len(events)} events ({first}..{last}), {len(trades)} trades and "
                   f"{len(stale[epoch])} order states off it",
            order_ids=tuple(sorted(touched | stale[epoch])),
            trade_ids=tuple(sorted(t.trade_id for t in trades)),
            detail="a deposed leader's un-replicated commits: kept as history, not served"))
    return findings


def unseen_findings(symbol_snapshot: SymbolSnapshot, min_age_s: float) -> list[FindingData]:
    return [FindingData(
        ACCEPTED_UNSEEN, f"{ACCEPTED_UNSEEN}:{o.order_id}", o.symbol,
        expected=f"seen by the matcher within {min_age_s:g}s of acceptance",
        actual=f"still ACCEPTED since {o.accepted_at}", order_ids=(o.order_id,))
        for o in symbol_snapshot.accepted_unseen]


def check(snapshot: Snapshot, unseen_age_s: float) -> tuple[list[FindingData], list[FindingData]]:
    """(open findings, findings already resolved by a Reconciled event)."""
    findings = fill_findings(snapshot) + idempotency_findings(snapshot) + cancel_findings(snapshot)
    names: dict[str, set[str]] = defaultdict(set)
    for symbol_snapshot in snapshot.symbols.values():
        findings += sequence_findings(symbol_snapshot)
        findings += trade_event_findings(symbol_snapshot)
        findings += divergent_findings(symbol_snapshot, snapshot.orders)
        findings += unseen_findings(symbol_snapshot, unseen_age_s)
        # Only a compensation on the canonical chain resolves: one a later failover forked off
        # (it sits in the deposed tail now) is history, not served, and must be made again.
        for key, named in resolved_names(symbol_snapshot.canonical_events).items():
            names[key] |= named
    open_findings: list[FindingData] = []
    done: list[FindingData] = []
    for finding in findings:
        (done if _resolved(finding, names) else open_findings).append(finding)
    return open_findings, done


def summarize(findings: Iterable[FindingData]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for finding in findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    return counts
