"""The checks: after every step (from the tables' streams, one transaction at a time) and at the
end (the whole state of record, the clients' answers, the queues, the books).

After every step, for each committed transaction in order (docs/rules.md, golden invariants):
* an order and its idempotency record appear together, in one transaction, and never change after
  (order entry writes both in ONE TransactWriteItems, so "the idempotency record written, the order
  not" cannot happen: this is asserted rather than simulated as a crash window);
* one order per (client, idempotency key);
* Σ trade qty per order <= qty, and == filledQty once the transaction is in; filledQty never goes
  down; a FILLED or CANCELLED order never changes again; trades, event pages and orders are never
  rewritten or deleted;
* a shard's seq moves only by a fenced advance that stores exactly the events between the old and
  the new lastSeq: gap-free, never repeated, per (shard, epoch) and across epochs;
* whatever is published was committed first.

With several regions (tests/sim/regions.py) each region has its own checker over its own replica.
What the replicator wrote there (another region's changes, item by item, last writer wins) is
taken in without the per-transaction checks, which only a region's own commits must pass; fills
count the trades of the shard's canonical chain of epochs (tulip/epochs.py), and a take that
crosses leaderships may start its epoch back at the fork point (matching/fork.py), leaving the
seqs after it to the old epoch's off-chain tail.

At the end, after the pipeline went quiet: the ledger of every symbol (as tests/support/ledger.py
checks it on the real stack), a replay of the committed commands through the naive reference book
(tests/property/reference.py) giving exactly the stored events, the stored open orders and every
leading engine's book equal to the reference book, every acknowledged order stored and no longer
ACCEPTED, all acknowledgements of one key naming one order, every queue empty (all messages
deleted, none dead-lettered).
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from matching.engine import (
    CancelOrder,
    Command,
    Event,
    OpenOrder,
    PlaceOrder,
    TradeExecuted,
    to_ticks,
)
from orders.domain import idempotency_hash
from tests.property.reference import ReferenceBook, RefOrder
from tests.sim.actors import History, Region
from tests.sim.ddb.table import StreamRecord
from tests.sim.ddb.values import Item
from tests.support.commands import command_groups, command_key
from tulip.epochs import Chain, EpochStart, canonical
from tulip.schema import (
    ACCEPTED,
    CANCELLED,
    FILLED,
    OPEN_STATES,
    EpochItem,
    EventPageItem,
    IdempotencyItem,
    OrderItem,
    ShardItem,
    TradeItem,
)

TERMINAL = (FILLED, CANCELLED)


def s(item: Item | None, name: str) -> str | None:
    value = (item or {}).get(name)
    return None if value is None else str(value.get("S", value.get("N")))


def n(item: Item | None, name: str, default: int = 0) -> int:
    value = (item or {}).get(name)
    return default if value is None else int(value["N"])


def page_events(page: Item) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(page["events"]["S"])
    return events


# ------------------------------------------------------------------------------------ streams
@dataclass(frozen=True, slots=True)
class Entry:
    """One step of a symbol's history in commit order: a matcher commit's events, or a user
    cancel that order entry committed (the sequencer hears of it later, from the queue)."""

    transaction: int
    events: tuple[dict[str, Any], ...] = ()
    user_cancel: str | None = None


@dataclass
class StreamChecker:
    """Follows both tables' streams and checks every transaction as it lands."""

    region: Region
    violations: list[str] = field(default_factory=list)
    orders: dict[str, Item] = field(default_factory=dict)
    # order -> (symbol, epoch, seq, qty) of each trade leg it has (canonical or not)
    fills: defaultdict[str, list[tuple[str, int, int, int]]] = field(
        default_factory=lambda: defaultdict(list))
    epochs: defaultdict[str, dict[int, EpochStart]] = field(
        default_factory=lambda: defaultdict(dict))  # symbol -> epoch -> its start
    chains: dict[str, Chain] = field(default_factory=dict)
    # (client, key) orders written here while another region's order for that key was already
    # here (replicated item by item, its idempotency record not yet): reconciliation's business
    cross_region_duplicates: list[str] = field(default_factory=list)
    replicated: set[tuple[str, str]] = field(default_factory=set)  # owners taken in by replication
    label: str = ""  # the region, in a run of several
    owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (client, IK) -> order
    shards: dict[str, tuple[int, int]] = field(default_factory=dict)  # symbol -> (epoch, lastSeq)
    seqs: defaultdict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(dict))  # symbol -> seq -> epoch
    accepted: set[str] = field(default_factory=set)
    positions: dict[str, int] = field(default_factory=dict)
    timeline: defaultdict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    accepted_at: dict[str, float] = field(default_factory=dict)
    slowest_match_s: float = 0.0  # the longest an order stayed ACCEPTED (accept -> matched)
    late_cancels: int = 0  # violations ReferenceReplay tells apart, counted for the report
    stale_decisions: int = 0

    def check(self) -> list[str]:
        """Check what landed since the last call; returns the new violations."""
        before = len(self.violations)
        for group in self._transactions():
            self._transaction(group)
        return self.violations[before:]

    def _transactions(self) -> Iterator[list[StreamRecord]]:
        records: list[StreamRecord] = []
        for role in ("orders", "trades"):
            table = self.region.table(role)
            start = self.positions.get(table.name, 0)
            records.extend(table.stream[start:])
            self.positions[table.name] = len(table.stream)
        records.sort(key=lambda r: (r.transaction, r.table, r.sequence))
        group: list[StreamRecord] = []
        for record in records:
            if group and record.transaction != group[0].transaction:
                yield group
                group = []
            group.append(record)
        if group:
            yield group

    def fail(self, message: str) -> None:
        self.violations.append(f"{self.label}: {message}" if self.label else message)

    # ---------------------------------------------------------------- one transaction
    def _transaction(self, group: list[StreamRecord]) -> None:
        by_kind: defaultdict[str, list[StreamRecord]] = defaultdict(list)
        for record in group:
            by_kind[_kind(record)].append(record)
        for record in by_kind["epoch"]:
            self._epoch(record)
        if group[0].origin == "replicator":
            self._absorb(by_kind)
            return
        self._accepts(by_kind["order"], by_kind["idempotency"])
        touched = {o for r in by_kind["order"] if (o := s(r.new or r.old, "orderId"))}
        for record in by_kind["order"]:
            self._order(record)
        for record in by_kind["trade"]:
            touched |= self._trade(record)
        self._sequence(by_kind["page"], by_kind["shard"])
        if group[0].origin == "ops":
            return  # a compensation cancels, fills nothing: an order it names may keep fills
            # from a deposed leader's tail (regional_violations wants a Reconciled event)
        for order_id in sorted(touched):
            self._fills_match(order_id, group[0].transaction)

    def _accepts(self, orders: list[StreamRecord], records: list[StreamRecord]) -> None:
        inserted = {s(r.new, "orderId"): r for r in orders if r.event == "INSERT"}
        recorded = {s(r.new, "orderId"): r for r in records if r.new is not None}
        for record in records:
            if record.event != "INSERT":
                self.fail(f"idempotency record {s(record.keys, 'pk')} was {record.event}: "
                          f"{s(record.old, 'orderId')} -> {s(record.new, 'orderId')}")
        for order_id in sorted(set(inserted) ^ set(recorded), key=str):
            self.fail(f"order {order_id} and its idempotency record not written together in "
                      "one transaction")
        for order_id, record in inserted.items():
            owner = (str(s(record.new, "clientId")), str(s(record.new, "idempotencyKey")))
            if owner in self.owners and owner in self.replicated:
                self.cross_region_duplicates.append(str(order_id))
            elif owner in self.owners:
                self.fail(f"two orders for one idempotency key: {self.owners[owner]} and "
                          f"{order_id} (client {owner[0]})")
            self.owners[owner] = str(order_id)

    # ---------------------------------------------------------------- another region's changes
    def _epoch(self, record: StreamRecord) -> None:
        if record.new is None:
            self.fail(f"epoch record {s(record.keys, 'sk')} deleted")
            return
        symbol = str(s(record.keys, "pk")).removeprefix(EpochItem.PREFIX)
        epoch = n(record.new, "epoch")
        self.epochs[symbol][epoch] = EpochStart(epoch, n(record.new, "parent"),
                                                n(record.new, "startSeq"))
        self.chains.pop(symbol, None)

    def chain(self, symbol: str) -> Chain:
        found = self.chains.get(symbol)
        if found is None:
            found = self.chains[symbol] = canonical(self.epochs[symbol].values())
        return found

    def _absorb(self, by_kind: defaultdict[str, list[StreamRecord]]) -> None:
        """Changes the replicator applied here: state only (they were checked where made)."""
        for record in by_kind["order"]:
            new = record.new
            if record.event == "INSERT" and new is not None:
                owner = (str(s(new, "clientId")), str(s(new, "idempotencyKey")))
                self.owners.setdefault(owner, str(s(new, "orderId")))
                self.replicated.add(owner)
            self._order(record, checked=False)
        for record in by_kind["trade"]:
            if record.event == "INSERT" and record.new is not None:
                self._trade(record)
        for record in by_kind["page"]:
            if record.new is not None:
                symbol, epoch = str(s(record.new, "symbol")), n(record.new, "epoch")
                for event in page_events(record.new):
                    if self.chain(symbol).covers(epoch, int(event["seq"])):
                        self.seqs[symbol][int(event["seq"])] = epoch
        for record in by_kind["shard"]:
            symbol = str(record.keys["pk"]["S"]).removeprefix(ShardItem.PREFIX)
            self.shards[symbol] = (n(record.new, "epoch"), n(record.new, "lastSeq"))

    # ---------------------------------------------------------------- this region's commits
    def _order(self, record: StreamRecord, checked: bool = True) -> None:
        order_id = str(s(record.new or record.old, "orderId"))
        old, new = record.old, record.new
        if new is None:
            self.fail(f"order {order_id} deleted")
            return
        self.orders[order_id] = new
        if s(new, "status") == ACCEPTED:
            self.accepted.add(order_id)
            self.accepted_at.setdefault(order_id, record.at)
        elif order_id in self.accepted:
            self.accepted.discard(order_id)
            self.slowest_match_s = max(self.slowest_match_s,
                                       record.at - self.accepted_at.get(order_id, record.at))
        if old is not None:
            if checked:
                self._transition(order_id, old, new)
            if s(new, "cancelReason") == "user" and s(old, "status") != CANCELLED:
                self.timeline[str(s(new, "symbol"))].append(
                    Entry(record.transaction, user_cancel=order_id))
        if n(new, "filledQty") > n(new, "qty"):
            self.fail(f"order {order_id}: filledQty {n(new, 'filledQty')} > qty {n(new, 'qty')}")

    def _transition(self, order_id: str, old: Item, new: Item) -> None:
        if s(old, "status") in TERMINAL and not _cancel_sequenced(old, new):
            self.fail(f"order {order_id} changed after it was {s(old, 'status')}: "
                      f"{_diff(old, new)}")
        if n(new, "filledQty") < n(old, "filledQty"):
            self.fail(f"order {order_id}: filledQty went down {n(old, 'filledQty')} -> "
                      f"{n(new, 'filledQty')}")
        for name in ("clientId", "symbol", "side", "qty", "priceTicks", "idempotencyKey"):
            if old.get(name) != new.get(name):
                self.fail(f"order {order_id}: {name} changed")

    def _trade(self, record: StreamRecord) -> set[str]:
        if record.event != "INSERT" or record.new is None:
            self.fail(f"trade {s(record.keys, 'pk')} was {record.event}")
            return set()
        legs = {str(s(record.new, "buyOrderId")), str(s(record.new, "sellOrderId"))}
        leg_fill = (str(s(record.new, "symbol")), n(record.new, "epoch"), n(record.new, "seq"),
                    n(record.new, "qty"))
        for leg in legs:
            self.fills[leg].append(leg_fill)
        return {leg for leg in legs if not leg.startswith("sim:")}

    def filled(self, order_id: str) -> int:
        """The order's fills on its shard's canonical chain (all of them, in one region)."""
        return sum(qty for symbol, epoch, seq, qty in self.fills[order_id]
                   if self.chain(symbol).covers(epoch, seq))

    def _fills_match(self, order_id: str, transaction: int) -> None:
        order = self.orders.get(order_id) or self._stored_order(order_id)
        if order is None:
            self.fail(f"a trade for order {order_id}, which does not exist")
            return
        symbol, epoch = str(s(order, "symbol")), order.get("epoch")
        if epoch is not None and not self.chain(symbol).covers(n(order, "epoch"), n(order, "seq")):
            return  # its state came from a deposed leader's off-chain tail: reconciliation's
        filled, qty = self.filled(order_id), n(order, "qty")
        # Across regions last writer wins may drop a fill from the order's item (a cancel
        # acknowledged on a replica without it): reconciliation's filled_qty_mismatch, and the
        # end check requires a Reconciled event naming the order (docs/reliability.md).
        dropped = bool(self.label) and filled > n(order, "filledQty")
        if filled > qty:
            self.fail(f"double fill: order {order_id} has trades for {filled} > qty {qty}")
        elif filled != n(order, "filledQty") and not dropped:
            self.fail(f"order {order_id}: trades {filled} != filledQty {n(order, 'filledQty')} "
                      f"after transaction {transaction}")

    def _stored_order(self, order_id: str) -> Item | None:
        key = OrderItem.key(order_id)
        item = self.region.table("orders").items.get((("S", key), ("S", key)))
        if item is not None:
            self.orders[order_id] = item
        return item

    def _sequence(self, pages: list[StreamRecord], shards: list[StreamRecord]) -> None:
        stored: defaultdict[str, list[int]] = defaultdict(list)
        for record in pages:
            if record.event != "INSERT" or record.new is None:
                self.fail(f"event page {s(record.keys, 'sk')} was {record.event}")
                continue
            symbol = str(s(record.new, "symbol"))
            events = page_events(record.new)
            for event in events:
                self._new_seq(symbol, int(event["seq"]), n(record.new, "epoch"))
                stored[symbol].append(int(event["seq"]))
            self.timeline[symbol].append(Entry(record.transaction, tuple(events)))
        advanced = set()
        for record in shards:
            symbol = str(record.keys["pk"]["S"]).removeprefix(ShardItem.PREFIX)
            advanced.add(symbol)
            self._advance(symbol, record, sorted(stored.get(symbol, [])))
        for symbol in sorted(set(stored) - advanced):
            self.fail(f"{symbol}: events {stored[symbol]} stored without a shard advance")

    def _new_seq(self, symbol: str, seq: int, epoch: int) -> None:
        earlier = self.seqs[symbol].get(seq)
        if earlier is not None and earlier != epoch and not self.chain(symbol).covers(earlier,
                                                                                      seq):
            earlier = None  # the old epoch's off-chain tail: this epoch forked before it
        if earlier is not None:
            self.fail(f"{symbol}: seq {seq} stored twice (epochs {self.seqs[symbol][seq]} and "
                      f"{epoch})")
        self.seqs[symbol][seq] = epoch

    def _advance(self, symbol: str, record: StreamRecord, stored: list[int]) -> None:
        old_epoch, old_last = self.shards.get(symbol, (0, 0))
        new_epoch, new_last = n(record.new, "epoch"), n(record.new, "lastSeq")
        self.shards[symbol] = (new_epoch, new_last)
        if new_epoch < old_epoch:
            self.fail(f"{symbol}: epoch went back {old_epoch} -> {new_epoch}")
        start = self.epochs[symbol].get(new_epoch)
        if new_epoch != old_epoch and start is not None and not stored and (
                start.parent == old_epoch and start.start_seq == new_last <= old_last):
            return  # a take: the new epoch continues at its start (the fork point, or lastSeq)
        if new_last < old_last:
            self.fail(f"{symbol}: lastSeq went back {old_last} -> {new_last} (epoch {new_epoch})")
        elif stored != list(range(old_last + 1, new_last + 1)):
            self.fail(f"{symbol}: lastSeq {old_last} -> {new_last} (epoch {new_epoch}) stored "
                      f"seqs {stored}: not exactly the seqs in between")

    # ---------------------------------------------------------------- publication
    def published(self, symbol: str, events: Sequence[dict[str, Any]]) -> None:
        """Called by the fan-out before it publishes: every event must already be committed (in
        this region's streams, which the last step's check may not have read yet)."""
        self.check()
        for event in events:
            if int(event["seq"]) not in self.seqs[symbol]:
                self.fail(f"{symbol}: seq {event['seq']} published before it was committed")


def _kind(record: StreamRecord) -> str:
    pk = str(record.keys["pk"]["S"])
    for prefix, kind in ((OrderItem.PREFIX, "order"), (IdempotencyItem.PREFIX, "idempotency"),
                         (TradeItem.PREFIX, "trade"), (EventPageItem.PREFIX, "page"),
                         (ShardItem.PREFIX, "shard"), (EpochItem.PREFIX, "epoch")):
        if pk.startswith(prefix):
            return kind
    return "other"


# What the matcher's commit of a user cancel may change on the CANCELLED order (POST /cancel left
# it on the openOrders index, orders/storage.py): the index keys go, the deciding seq is stamped.
CANCEL_SEQUENCED_FIELDS = frozenset({"openSymbol", "openSort", "seq", "epoch", "updatedAt"})


def _cancel_sequenced(old: Item, new: Item) -> bool:
    changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    # The index entry may already be gone: a cancel of an order ACCEPTED in that replica (the
    # region that cancelled never saw it rest) removes it, and the book sequences it later.
    return (s(old, "status") == CANCELLED and "openSymbol" not in new
            and "openSort" not in new and changed <= CANCEL_SEQUENCED_FIELDS)


def _diff(old: Item, new: Item) -> str:
    names = sorted(set(old) | set(new))
    return ", ".join(f"{k}: {s(old, k)} -> {s(new, k)}" for k in names if old.get(k) != new.get(k))


# ------------------------------------------------------------------------------------ the end
@dataclass
class Ledger:
    """One region's state of record, read straight from its tables."""

    orders: dict[str, Item]
    idempotency: dict[str, Item]
    trades: list[Item]
    pages: dict[str, list[Item]]
    shards: dict[str, Item]

    @classmethod
    def read(cls, region: Region) -> Ledger:
        orders, idempotency, trades, shards = {}, {}, [], {}
        pages: defaultdict[str, list[Item]] = defaultdict(list)
        for item in region.table("orders").items.values():
            pk = str(item["pk"]["S"])
            if pk.startswith(OrderItem.PREFIX):
                orders[str(s(item, "orderId"))] = item
            elif pk.startswith(IdempotencyItem.PREFIX):
                idempotency[pk] = item
        for item in region.table("trades").items.values():
            pk = str(item["pk"]["S"])
            if pk.startswith(TradeItem.PREFIX):
                trades.append(item)
            elif pk.startswith(EventPageItem.PREFIX):
                pages[pk.removeprefix(EventPageItem.PREFIX)].append(item)
            elif pk.startswith(ShardItem.PREFIX):
                shards[pk.removeprefix(ShardItem.PREFIX)] = item
        return cls(orders, idempotency, trades, dict(pages), shards)

    def events(self, symbol: str) -> list[dict[str, Any]]:
        found = [e for page in self.pages.get(symbol, []) for e in page_events(page)]
        return sorted(found, key=lambda e: int(e["seq"]))


def final_violations(region: Region, history: History, checker: StreamChecker,
                     engines: dict[str, list[OpenOrder]], regional: bool = False) -> list[str]:
    """`regional`: one region of several, whose idempotency, answers and queues
    regional_violations judges (a follower's provisional order may duplicate a key)."""
    ledger = Ledger.read(region)
    found: list[str] = []
    found += ledger_violations(ledger, region.cfg.symbols)
    if not regional:
        found += idempotency_violations(ledger)
        found += answer_violations(ledger, history)
        found += queue_violations(region)
    for symbol in region.cfg.symbols:
        replay = ReferenceReplay(symbol, ledger.orders)
        found += replay.run(checker.timeline.get(symbol, []), engines.get(symbol))
        checker.late_cancels += replay.late_cancels
        checker.stale_decisions += replay.stale_decisions
        if replay.late_cancels or replay.stale_decisions:
            found.append(f"{symbol}: {replay.late_cancels} cancel(s) rejected after a rebuild, "
                         f"{replay.stale_decisions} decision(s) against an order its owner had "
                         "cancelled")
    return found


def ledger_violations(ledger: Ledger, symbols: Iterable[str]) -> list[str]:
    found: list[str] = []
    filled: defaultdict[str, int] = defaultdict(int)
    notional: defaultdict[str, int] = defaultdict(int)
    for trade in ledger.trades:
        for leg in ("buyOrderId", "sellOrderId"):
            filled[str(s(trade, leg))] += n(trade, "qty")
            notional[str(s(trade, leg))] += n(trade, "qty") * n(trade, "priceTicks")
    for order_id, order in sorted(ledger.orders.items()):
        found += _order_violations(order_id, order, filled[order_id], notional[order_id])
    for order_id in sorted(set(filled) - set(ledger.orders)):
        if not order_id.startswith("sim:"):
            found.append(f"trade for unknown order {order_id}")
    for symbol in symbols:
        found += _seq_violations(ledger, symbol)
    return found


def _order_violations(order_id: str, order: Item, filled: int, notional: int) -> list[str]:
    found = []
    qty, status = n(order, "qty"), s(order, "status")
    if filled > qty:
        found.append(f"double fill: {order_id} {filled} > {qty}")
    if filled != n(order, "filledQty"):
        found.append(f"{order_id}: trades {filled} != filledQty {n(order, 'filledQty')}")
    if notional != n(order, "filledNotionalTicks"):
        found.append(f"{order_id}: notional {notional} != {n(order, 'filledNotionalTicks')}")
    if status == ACCEPTED:
        found.append(f"{order_id} still ACCEPTED at the end: never matched")
    if status == FILLED and filled != qty:
        found.append(f"{order_id} FILLED with {filled} of {qty}")
    if status in OPEN_STATES and status != ACCEPTED and not (
            qty > filled and str(s(order, "openSort")).startswith("B#")):
        found.append(f"{order_id} {status} but not resting (filled {filled} of {qty})")
    if status in TERMINAL and "openSymbol" in order:
        found.append(f"{order_id} {status} but still in the open-orders index")
    return found


def _seq_violations(ledger: Ledger, symbol: str) -> list[str]:
    events = ledger.events(symbol)
    seqs = [int(e["seq"]) for e in events]
    last = n(ledger.shards.get(symbol), "lastSeq")
    found = []
    if seqs != list(range(1, last + 1)):
        found.append(f"{symbol}: stored seqs are not exactly 1..{last} ({len(seqs)} events)")
    traded = {int(e["seq"]) for e in events if e["type"] == "TradeExecuted"}
    trades = {n(t, "seq") for t in ledger.trades if s(t, "symbol") == symbol}
    if traded != trades:
        found.append(f"{symbol}: trades and TradeExecuted events differ: "
                     f"{sorted(traded ^ trades)[:5]}")
    return found


def idempotency_violations(ledger: Ledger) -> list[str]:
    found = []
    owners: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for order_id, order in ledger.orders.items():
        owners[(str(s(order, "clientId")), str(s(order, "idempotencyKey")))].append(order_id)
        record = ledger.idempotency.get(IdempotencyItem.key(str(s(order, "idempotencyKey"))))
        if record is None or s(record, "orderId") != order_id:
            found.append(f"order {order_id} without its idempotency record")
    for (client, _), ids in sorted(owners.items()):
        if len(ids) > 1:
            found.append(f"one idempotency key of {client} has {len(ids)} orders: {sorted(ids)}")
    for pk, record in sorted(ledger.idempotency.items()):
        if s(record, "orderId") not in ledger.orders:
            found.append(f"idempotency record {pk} without its order")
    return found


def answer_violations(ledger: Ledger, history: History) -> list[str]:
    """Every acknowledged order is stored, all answers for one key name one order, and no
    answer is a 500: a fault the product meets is a 503 to retry (tulip/transient.py)."""
    found = []
    named: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for answer in history.answers:
        if answer.status == 500:
            found.append(f"{answer.client_id} {answer.kind} {answer.key} was answered 500")
        if answer.kind == "order" and answer.status in (200, 201) and answer.order_id:
            named[(answer.client_id, answer.key)].add(answer.order_id)
    for (client, key), ids in sorted(named.items()):
        if len(ids) > 1:
            found.append(f"{client} key {key} was acknowledged as {len(ids)} orders {sorted(ids)}")
        for order_id in sorted(ids):
            order = ledger.orders.get(order_id)
            if order is None:
                found.append(f"acknowledged order {order_id} ({client} {key}) is lost")
            elif s(order, "idempotencyKey") != idempotency_hash(client, key):
                found.append(f"acknowledged order {order_id} is not {client}'s key {key}")
    return found


def queue_violations(region: Region) -> list[str]:
    found = []
    for url, queue in sorted(region.sqs.queues.items()):
        if queue.messages:
            where = "dead-lettered" if url == region.cfg.events_dlq_url else "never deleted"
            found.append(f"{len(queue.messages)} message(s) {where} in {url.rsplit('/', 1)[-1]}")
    return found


# ------------------------------------------------------------------------------------ reference
_FIELDS = {
    "TradeExecuted": ("price", "qty", "takerSide", "makerOrderId", "makerRemaining",
                      "makerFilled", "takerOrderId", "takerRemaining", "takerFilled"),
    "OrderOpened": ("orderId", "side", "price", "qty", "remaining", "filled"),
    "OrderCancelled": ("orderId", "reason", "remaining", "filled"),
    "OrderRejected": ("orderId", "reason"),
    "CancelRejected": ("orderId", "reason"),
}


def stored_shape(event: dict[str, Any]) -> tuple[Any, ...]:
    payload = event["payload"]
    values = [to_ticks(payload[f]) if f == "price" else payload[f] for f in _FIELDS[event["type"]]]
    return (int(event["seq"]), event["type"], *values)


def reference_shape(event: Event) -> tuple[Any, ...]:
    kind = type(event).__name__
    return (event.seq, kind, *(getattr(event, _snake(f)) for f in _FIELDS[kind]))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _command(group: list[dict[str, Any]], orders: dict[str, Item]) -> Command | None:
    kind, order_id = command_key(group[0])
    if kind == "cancel":
        return CancelOrder(order_id, str(group[0]["payload"]["clientId"]), 0)
    order = orders.get(order_id)
    if order is None:
        return None
    return PlaceOrder(order_id, str(s(order, "clientId")), s(order, "side"),  # type: ignore[arg-type]
                      n(order, "priceTicks"), n(order, "qty"), 0,
                      s(order, "timeInForce") or "GTC",  # type: ignore[arg-type]
                      bool(order.get("postOnly", {}).get("BOOL")), None,
                      str(s(order, "idempotencyKey")))


class ReferenceReplay:
    """The committed history of one symbol replayed through the naive reference book.

    Commit order decides: the matcher's commits in the order they were made, and between them the
    user cancels order entry committed (docs/architecture.md: POST /cancel moves the order to
    CANCELLED at once; the book drops it when the matcher hears of it). Until the matcher hears of
    such a cancel its book still holds the order. Two outcomes of that are told apart from other
    disagreements, and counted for the report; both are violations:

    * `stale_decisions`: a command decided with the cancelled order still on the book where no
      write of it refuses the commit: self-trade prevention, post-only or fill-or-kill judged
      against an order its owner had already cancelled (the matcher's commit checks such an
      order is still open, ShardMatcher._witnesses). Told apart when the stored outcome is
      exactly the reference's with those orders still resting, and fills none of them; the
      replay then goes on from that outcome.
    * `late_cancels`: a matcher that rebuilt its book in between answering the late
      CancelRequested with CancelRejected(not_open) where no OrderCancelled(user) took the order
      off (the rebuild sequences the user cancels it finds pending, matching/services.py)."""

    def __init__(self, symbol: str, orders: dict[str, Item]) -> None:
        self.symbol = symbol
        self.orders = orders
        self.book = ReferenceBook(symbol)
        self.withdrawn: dict[str, RefOrder] = {}  # cancelled by order entry, not yet sequenced
        self.late_cancels = 0
        self.stale_decisions = 0

    def run(self, timeline: list[Entry], engine_book: list[OpenOrder] | None) -> list[str]:
        for entry in timeline:
            if entry.user_cancel is not None:
                self._withdraw(entry.user_cancel)
                continue
            for events in _between_compensations(list(entry.events)):
                if events[0]["type"] == RECONCILED:
                    self._compensate(events[0])
                    continue
                for group in command_groups(events):
                    problem = self._command(group)
                    if problem:
                        return [problem]
        return self._books(engine_book)

    def _compensate(self, event: dict[str, Any]) -> None:
        """ops' Reconciled event (ops/storage.py): its compensating cancels leave the book."""
        cancels = set(event["payload"].get("cancels") or ())
        self.book.orders = [o for o in self.book.orders if o.order_id not in cancels]
        self.book.seq = int(event["seq"])

    def _withdraw(self, order_id: str) -> None:
        for order in self.book.orders:
            if order.order_id == order_id:
                self.withdrawn[order_id] = order
        self.book.orders = [o for o in self.book.orders if o.order_id != order_id]

    def _command(self, group: list[dict[str, Any]]) -> str | None:
        expected = [stored_shape(e) for e in group]
        kind, order_id = command_key(group[0])
        if kind == "cancel" and order_id in self.withdrawn:
            return self._late_cancel(group, self.withdrawn.pop(order_id))
        command = _command(group, self.orders)
        if command is None:
            return f"{self.symbol}: events at seq {group[0]['seq']} for an unknown order"
        before = copy.deepcopy(self.book) if self.withdrawn else None
        produced, _ = self.book.apply(command)
        actual = [reference_shape(e) for e in produced]
        if actual == expected:
            return None
        if before is not None and self._stale_decision(before, command, expected):
            return None
        return self._disagree(group, actual)

    def _late_cancel(self, group: list[dict[str, Any]], order: RefOrder) -> str | None:
        seq = int(group[0]["seq"])
        expected = [stored_shape(e) for e in group]
        late = [(seq, "CancelRejected", order.order_id, "not_open")]
        on_time = [(seq, "OrderCancelled", order.order_id, "user", order.remaining, order.filled)]
        self.book.seq = seq
        self.late_cancels += expected == late
        return None if expected in (late, on_time) else self._disagree(group, on_time)

    def _stale_decision(self, before: ReferenceBook, command: Command,
                        expected: list[tuple[Any, ...]]) -> bool:
        """The stored outcome is the one the book with the withdrawn orders gives, and it fills
        none of them: adopt it (the withdrawn orders stay withdrawn, untouched)."""
        trial = before
        trial.orders = trial.orders + [copy.copy(o) for o in self.withdrawn.values()]
        produced, _ = trial.apply(command)
        makers = {e.maker_order_id for e in produced if isinstance(e, TradeExecuted)}
        if [reference_shape(e) for e in produced] != expected or makers & set(self.withdrawn):
            return False
        trial.orders = [o for o in trial.orders if o.order_id not in self.withdrawn]
        self.book = trial
        self.stale_decisions += 1
        return True

    def _disagree(self, group: list[dict[str, Any]], reference: list[tuple[Any, ...]]) -> str:
        stored = [stored_shape(e) for e in group]
        return (f"{self.symbol}: the reference book disagrees at seq {group[0]['seq']}: stored "
                f"{stored}, reference {reference}")

    def _books(self, engine_book: list[OpenOrder] | None) -> list[str]:
        reference = [(o.order_id, o.price, o.qty, o.filled) for o in self.book.open_orders()]
        resting = _stored_book(self.orders, self.symbol)
        found = []
        if sorted(resting) != sorted(reference):
            found.append(f"{self.symbol}: stored open orders {sorted(resting)} != reference "
                         f"{sorted(reference)}")
        if engine_book is not None:
            engine = [(o.order_id, o.price, o.qty, o.filled) for o in engine_book]
            if engine != reference:
                found.append(f"{self.symbol}: the leading engine's book {engine} != reference "
                             f"{reference}")
        return found


RECONCILED = "Reconciled"


def _between_compensations(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The events cut at every Reconciled event (each on its own): what reconciliation appended
    is not a command of the matcher's."""
    run: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == RECONCILED:
            if run:
                yield run
                run = []
            yield [event]
        else:
            run.append(event)
    if run:
        yield run


def _stored_book(orders: dict[str, Item], symbol: str) -> list[tuple[str, int, int, int]]:
    return [(order_id, n(o, "priceTicks"), n(o, "qty"), n(o, "filledQty"))
            for order_id, o in orders.items()
            if s(o, "symbol") == symbol and s(o, "status") in OPEN_STATES
            and s(o, "status") != ACCEPTED]


# ------------------------------------------------------------------------------------ regions
def regional_violations(regional: Any, history: History, checkers: dict[str, StreamChecker],
                        strict: bool = False) -> list[str]:
    """Several regions at the end, after the heal and reconciliation (tests/sim/regions.py):
    * every region holds the same ledger (`manage.py state_hash`'s items);
    * every acknowledged order is in every region and was decided; answers for one key name one
      order, unless reconciliation compensated the other (a Reconciled event names it: a
      follower's provisional order for a key the leader also took, docs/architecture.md; counted
      in `regional.duplicate_keys`, a violation when `strict`);
    * zero double fills on the canonical chain of epochs; filledQty equals the canonical fills,
      unless a Reconciled event names the order (its state came from a deposed leader's tail);
    * each (shard, epoch) stored gap-free seqs, none twice; the canonical chain's events are
      exactly 1..lastSeq;
    * reconciliation's second pass finds nothing open;
    * queues: none dead-lettered, the leader's empty, another region's only holding orders the
      leader decided (a follower's queue is consumed again only after a fail-back, and its
      redelivery skip drops what was decided meanwhile)."""
    leader = regional.region(regional.leader())
    found: list[str] = []
    if not regional.converged():
        found.append("the regions' ledgers did not converge: "
                     + _divergence(regional.regions))
    ledger = Ledger.read(leader)
    named = _compensated(ledger)
    found += _acknowledged(regional, ledger, history, named, strict)
    for symbol in leader.cfg.symbols:
        found += _canonical(ledger, symbol, leader, named)
    for checker in checkers.values():
        for order_id in checker.cross_region_duplicates:
            if order_id not in named:
                found.append(f"{checker.label}: order {order_id} duplicates another region's "
                             "order for its key and was not reconciled")
    found += [f"reconciliation's second pass: {f}" for f in regional.open_after]
    for region in regional.regions:
        for url, queue in sorted(region.sqs.queues.items()):
            if url == region.cfg.events_dlq_url and queue.messages:
                found.append(f"{region.name}: {len(queue.messages)} message(s) dead-lettered")
            elif region is leader and queue.messages:
                found.append(f"{region.name}: {len(queue.messages)} message(s) never deleted "
                             f"from {url.rsplit('/', 1)[-1]}")
            else:
                for message in queue.messages:
                    order_id = json.loads(message.body).get("orderId")
                    order = ledger.orders.get(str(order_id))
                    if order is not None and s(order, "status") == ACCEPTED:
                        found.append(f"{region.name}: queued order {order_id} never decided")
    return found


def _divergence(regions: list[Region]) -> str:
    from tests.sim.regions import ledger_state

    first = ledger_state(regions[0])
    for region in regions[1:]:
        other = ledger_state(region)
        keys = sorted(k for k in set(first) | set(other) if first.get(k) != other.get(k))
        if keys:
            return f"{regions[0].name} and {region.name} differ on {len(keys)} item(s): {keys[:3]}"
    return "no difference"


def _compensated(ledger: Ledger) -> set[str]:
    """Every order a Reconciled event names (the finding's orders and its cancels)."""
    named: set[str] = set()
    for pages in ledger.pages.values():
        for page in pages:
            for event in page_events(page):
                if event["type"] == RECONCILED:
                    payload = event["payload"]
                    named |= set(payload.get("orderIds") or ()) | set(payload.get("cancels") or ())
    return named


def _acknowledged(regional: Any, ledger: Ledger, history: History, named: set[str],
                  strict: bool) -> list[str]:
    found: list[str] = []
    replicas = {r.name: Ledger.read(r).orders for r in regional.regions}
    acked: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for answer in history.answers:
        if answer.kind == "order" and answer.status in (200, 201) and answer.order_id:
            acked[(answer.client_id, answer.key)].add(answer.order_id)
    keys: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for order_id, order in ledger.orders.items():
        keys[(str(s(order, "clientId")), str(s(order, "idempotencyKey")))].add(order_id)
    for (client, _), ids in sorted(keys.items()):
        if len(ids) > 1:
            regional.duplicate_keys += 1
            if strict or len(ids - named) > 1:
                found.append(f"{client}: {len(ids)} orders for one idempotency key "
                             f"{sorted(ids)}, {len(ids & named)} named by a Reconciled event")
    for (client, key), ids in sorted(acked.items()):
        if len(ids) > 1 and (strict or len(ids - named) > 1):
            found.append(f"{client} key {key} was acknowledged as {len(ids)} orders "
                         f"{sorted(ids)}")
        for order_id in sorted(ids):
            for name, orders in replicas.items():
                if order_id not in orders:
                    found.append(f"acknowledged order {order_id} ({client} {key}) is lost in "
                                 f"{name}")
            order = ledger.orders.get(order_id)
            if order is not None and s(order, "status") == ACCEPTED:
                found.append(f"acknowledged order {order_id} still ACCEPTED at the end")
            elif order is not None and s(order, "idempotencyKey") != idempotency_hash(client, key):
                found.append(f"acknowledged order {order_id} is not {client}'s key {key}")
    return found


def _canonical(ledger: Ledger, symbol: str, region: Region, named: set[str]) -> list[str]:
    found: list[str] = []
    starts = [EpochStart(n(i, "epoch"), n(i, "parent"), n(i, "startSeq"))
              for i in region.table("trades").items.values()
              if str(i["pk"]["S"]) == EpochItem.key(symbol)]
    chain = canonical(starts)
    per_epoch: defaultdict[int, list[int]] = defaultdict(list)
    on_chain: list[int] = []
    for page in ledger.pages.get(symbol, []):
        epoch = n(page, "epoch")
        for event in page_events(page):
            per_epoch[epoch].append(int(event["seq"]))
            if chain.covers(epoch, int(event["seq"])):
                on_chain.append(int(event["seq"]))
    for epoch, seqs in sorted(per_epoch.items()):
        seqs.sort()
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            found.append(f"{symbol}: epoch {epoch} stored seqs with a gap or twice: {seqs[:12]}")
    last = n(ledger.shards.get(symbol), "lastSeq")
    if sorted(on_chain) != list(range(1, last + 1)):
        found.append(f"{symbol}: the canonical chain's seqs are not exactly 1..{last}")
    filled: defaultdict[str, int] = defaultdict(int)
    for trade in ledger.trades:
        if s(trade, "symbol") == symbol and chain.covers(n(trade, "epoch"), n(trade, "seq")):
            for leg in ("buyOrderId", "sellOrderId"):
                filled[str(s(trade, leg))] += n(trade, "qty")
    for order_id, order in sorted(ledger.orders.items()):
        if s(order, "symbol") != symbol:
            continue
        if filled[order_id] > n(order, "qty"):
            found.append(f"double fill on the canonical chain: {order_id} {filled[order_id]} > "
                         f"{n(order, 'qty')}")
        elif filled[order_id] != n(order, "filledQty") and order_id not in named:
            found.append(f"{order_id}: canonical fills {filled[order_id]} != filledQty "
                         f"{n(order, 'filledQty')}, and no Reconciled event names it")
    return found
