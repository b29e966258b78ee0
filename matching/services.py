"""One shard's matcher: SQS messages in, engine commands, ONE fenced commit per batch, fan-out after.

Flow of a batch (docs/architecture.md, "The data path"): skip what the shard already applied
(SQS SequenceNumber <= lastSqsSeq) or what DynamoDB says is no longer ACCEPTED -> apply the rest
to the pure engine in order -> turn the events into trades, order updates, pages of market events
and the shard update -> commit -> only then delete the messages and publish. Any failure rebuilds
the engine from DynamoDB (the state of record) and recomputes the same batch; nothing is deleted
until a commit succeeded.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from matching import storage
from matching.engine import (
    SIM_CLIENT_ID,
    CancelOrder,
    Command,
    Event,
    L2Delta,
    MatchingEngine,
    OpenOrder,
    OrderCancelled,
    OrderOpened,
    OrderRejected,
    PlaceOrder,
    Side,
    StpMode,
    TimeInForce,
    TradeExecuted,
    from_ticks,
    make_engine,
)
from matching.storage import CommandWrites, CommitPlan, CommitRejected, MatcherStorage, OrderUpdate
from tulip import metrics, wire
from tulip.clock import now_iso, now_ms
from tulip.config import Config
from tulip.schema import (
    CANCELLED,
    FILLED,
    OPEN,
    PARTIALLY_FILLED,
    OrderItem,
    ShardItem,
    resting_sort_key,
    trade_id,
)

log = logging.getLogger("matching.services")

SNAPSHOT_DEPTH = 50  # levels kept in the Redis snapshot GET /book serves
# The engine's L2 view, whose changes become the WebSocket `book` deltas: exactly the 5 levels of
# the WebSocket snapshot (docs/api.md), so snapshot + deltas always reproduce the top of book.
BOOK_VIEW_DEPTH = 5
# A taker's end that rests on a resting order it leaves untouched (ShardMatcher._witnesses):
# reason -> whether that order is the taker owner's own (self-trade prevention) or any crossing one.
UNWRITTEN_DECISIONS: dict[str, bool] = {"post_only": False, "self_trade": True,
                                        "fok_unfilled": True}
MAX_ATTEMPTS = 3  # recomputations of one batch before leaving it to SQS redelivery
# An order's stored self-trade prevention mode (tulip.schema.SELF_TRADE_PREVENTION; absent: the
# default) -> the engine's mode; None lets the engine apply its default (cancel_newest).
STP_MODES: dict[str, StpMode] = {"cancelNewest": "cancel_newest", "cancelOldest": "cancel_oldest",
                                 "cancelBoth": "cancel_both"}


@dataclass(frozen=True, slots=True)
class Received:
    """One SQS message as the loop hands it over."""

    message_id: str
    receipt_handle: str
    body: str
    sqs_seq: int
    receive_count: int


@dataclass
class BatchOutcome:
    delete: list[Received] = field(default_factory=list)  # safe to delete: committed or skipped
    poison: list[Received] = field(default_factory=list)  # leave for redrive to the DLQ
    events: list[dict[str, Any]] = field(default_factory=list)
    commands: int = 0
    engine_s: float = 0.0  # decode + state reads + engine + plan
    commit_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Publication:
    """A committed batch's fan-out: its stored events and the book snapshot right after it. Taken on
    the matcher's thread (the engine is not thread-safe); delivered later, possibly elsewhere."""

    events: list[dict[str, Any]]
    snapshot: dict[str, Any]
    committed_at: float  # time.perf_counter() when the batch was committed and deleted


class CommitListener(Protocol):
    """What happens after a commit (fan-out); wired by the composition root."""

    def committed(self, symbol: str, events: Sequence[dict[str, Any]],
                  snapshot: dict[str, Any]) -> None: ...

    def resumed(self, symbol: str, last_seq: int, snapshot: dict[str, Any]) -> None:
        """The matcher leads the shard from `last_seq` (its book rebuilt from DynamoDB) and is
        about to take batches: republish the book of record and get ready to publish, so the
        first batch does not pay for the fan-out's start-up."""


class LostLeadership(Exception):
    """Another matcher holds a newer epoch for this shard: stop matching it."""


def _ms(iso_ts: str) -> int:
    try:
        return int(datetime.fromisoformat(iso_ts.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return now_ms()


def _levels(levels: Sequence[tuple[int, int, int]]) -> list[list[Any]]:
    return [[from_ticks(price), qty, count] for price, qty, count in levels]


def event_payload(event: Event, epoch: int) -> tuple[str, dict[str, Any]]:
    """Engine event -> (type, payload) of the stored market event (docs/storage.md)."""
    if isinstance(event, TradeExecuted):
        buy, sell = ((event.taker_order_id, event.maker_order_id) if event.taker_side == "BUY"
                     else (event.maker_order_id, event.taker_order_id))
        return "TradeExecuted", {
            "tradeId": trade_id(event.symbol, epoch, event.seq),
            "price": from_ticks(event.price), "qty": event.qty, "takerSide": event.taker_side,
            "makerOrderId": event.maker_order_id, "makerClientId": event.maker_client_id,
            "makerRemaining": event.maker_remaining, "makerFilled": event.maker_filled,
            "takerOrderId": event.taker_order_id, "takerClientId": event.taker_client_id,
            "takerRemaining": event.taker_remaining, "takerFilled": event.taker_filled,
            "buyOrderId": buy, "sellOrderId": sell,
        }
    if isinstance(event, OrderOpened):
        return "OrderOpened", {"orderId": event.order_id, "clientId": event.client_id,
                               "side": event.side, "price": from_ticks(event.price),
                               "qty": event.qty, "remaining": event.remaining,
                               "filled": event.filled}
    if isinstance(event, OrderCancelled):
        return "OrderCancelled", {"orderId": event.order_id, "clientId": event.client_id,
                                  "reason": event.reason, "remaining": event.remaining,
                                  "filled": event.filled}
    if isinstance(event, OrderRejected):
        return "OrderRejected", {"orderId": event.order_id, "clientId": event.client_id,
                                 "reason": event.reason}
    return "CancelRejected", {"orderId": event.order_id, "clientId": event.client_id,
                              "reason": event.reason}


class ShardMatcher:
    """Owns one symbol's engine. Not thread-safe: the loop calls it from one thread at a time."""

    def __init__(self, cfg: Config, symbol: str, store: MatcherStorage,
                 listener: CommitListener | None = None,
                 fault: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.fault = fault
        self.symbol = symbol
        self.store = store
        self.listener = listener
        self.engine: MatchingEngine = make_engine(cfg.matcher, symbol, depth=BOOK_VIEW_DEPTH)
        self.epoch = 0
        self.last_sqs_seq = 0
        self.active = False
        self.pending_cancels: list[tuple[str, str]] = []  # (orderId, clientId): rebuild()

    # ------------------------------------------------------------------ lifecycle
    def start(self, shard: ShardItem) -> None:
        """Lead the shard at the epoch its lease was taken with (matching/loop.py takes it): the
        book is rebuilt from DynamoDB, and every commit is fenced by that epoch."""
        self.epoch = shard.epoch
        self.rebuild()
        self.active = True
        if self.listener is not None:
            try:
                self.listener.resumed(self.symbol, self.engine.last_seq, self.book_snapshot())
            except Exception:  # best effort, like every publish: the first batch then catches up
                log.exception("fan-out not primed", extra={"symbol": self.symbol})
        log.info("matcher leads shard", extra={"symbol": self.symbol, "epoch": self.epoch,
                                                "seq": self.engine.last_seq,
                                                "stateHash": self.engine.state_hash()})

    def rebuild(self) -> None:
        """Book := DynamoDB's open orders (openOrders index) at the shard's lastSeq."""
        shard = self.store.read_shard(self.symbol)
        if shard.epoch != self.epoch:
            self.active = False
            raise LostLeadership(f"{self.symbol}: epoch {shard.epoch} != ours {self.epoch}")
        resting = self.store.resting_orders(self.symbol, shard.last_seq or 0)
        self.engine = make_engine(self.cfg.matcher, self.symbol, depth=BOOK_VIEW_DEPTH)
        self.engine.restore_from_open_orders(
            [OpenOrder(o.order_id, o.client_id, "BUY" if o.side == "BUY" else "SELL",
                       o.price_ticks, o.qty, o.filled_qty) for o in resting],
            shard.last_seq)
        self.last_sqs_seq = int(shard.last_sqs_seq or 0)
        # Cancelled by their owners, not yet sequenced (the CancelRequested is late, lost, or
        # waiting in a queue nobody consumes any more, as after a failover): restored to the book
        # so that the next commit, before anything else, takes them off with their events.
        self.pending_cancels = [(o.order_id, o.client_id) for o in resting
                                if o.status == CANCELLED]

    # ------------------------------------------------------------------ batches
    def process(self, batch: Sequence[Received]) -> BatchOutcome:
        """Apply and commit a batch (all messages of this symbol, in SQS order)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self._attempt(batch)
            except CommitRejected as exc:
                metrics.MATCHER_BATCHES.labels(self.symbol, "rejected").inc()
                log.warning("commit cancelled; rebuilding from DynamoDB and recomputing",
                            extra={"symbol": self.symbol, "reasons": exc.reasons,
                                   "attempt": attempt})
                self.rebuild()  # raises LostLeadership when the epoch moved
        raise RuntimeError(f"{self.symbol}: batch not committed after {MAX_ATTEMPTS} attempts")

    def _attempt(self, batch: Sequence[Received]) -> BatchOutcome:
        started = time.perf_counter()
        outcome = BatchOutcome()
        decoded: list[tuple[Received, wire.Message]] = []
        for received in batch:
            if self._already_applied(received):
                outcome.delete.append(received)  # committed before; the delete was lost
                continue
            try:
                decoded.append((received, wire.decode(received.body)))
            except wire.UnknownMessage as exc:
                # FIFO: nothing after a poison message may overtake it, so stop here; redrive
                # moves it to the DLQ after maxReceiveCount and the group flows again.
                metrics.POISON_MESSAGES.labels(self.symbol).inc()
                log.error("poison message", extra={"symbol": self.symbol, "why": str(exc),
                                                   "messageId": received.message_id,
                                                   "receiveCount": received.receive_count})
                outcome.poison.append(received)
                break

        accepted_ids = [m.orderId for _, m in decoded if isinstance(m, wire.OrderAccepted)]
        states = self.store.orders(accepted_ids) if accepted_ids else {}
        ts = now_ms()
        now = now_iso()
        plan = CommitPlan(self.cfg, self.symbol, self.epoch, self.engine.last_seq, now)
        for order_id, client_id in self.pending_cancels:
            self._apply(CancelOrder(order_id, client_id, ts), 0, plan, outcome)
        for received, message in decoded:
            command = self._command(message, states, ts)
            if command is None:
                outcome.delete.append(received)
                plan.last_sqs_seq = max(plan.last_sqs_seq, received.sqs_seq)
                continue
            self._apply(command, received.sqs_seq, plan, outcome)
            outcome.delete.append(received)
            outcome.commands += 1
            if isinstance(message, wire.OrderAccepted):
                metrics.observe_event_lag("accept_to_match", (ts - _ms(message.acceptedAt)) / 1000)
            metrics.MATCHER_MESSAGES.labels(self.symbol, message.type).inc()

        committing = time.perf_counter()
        outcome.engine_s = committing - started
        if plan.commands:
            if self.fault:
                self.fault("before_commit")
            self.store.commit(plan)
        self.pending_cancels = []
        outcome.commit_s = time.perf_counter() - committing
        self.last_sqs_seq = max(self.last_sqs_seq, plan.last_sqs_seq,
                                *(r.sqs_seq for r in outcome.delete))
        metrics.MATCHER_BATCHES.labels(self.symbol, "committed").inc()
        if outcome.events:
            # One line per committed batch (docs/rules.md, observability): the seqs it stored and
            # the orders its commands named, so a request's orderId leads to the seq it got.
            log.info("batch committed", extra={
                "symbol": self.symbol, "region": self.cfg.aws_region, "epoch": self.epoch,
                "seq": outcome.events[-1]["seq"], "firstSeq": outcome.events[0]["seq"],
                "orderIds": [m.orderId for _, m in decoded]})
        return outcome

    def _apply(self, command: Command, sqs_seq: int, plan: CommitPlan,
               outcome: BatchOutcome) -> None:
        """One command through the engine, its writes into the batch's commit plan."""
        result = self.engine.apply(command)
        writes, stored = self._writes(result.events, result.l2_delta, sqs_seq, plan.now)
        if writes is not None:
            if isinstance(command, PlaceOrder):
                writes.checks = self._witnesses(command, result.events)
            plan.commands.append(writes)
        outcome.events.extend(stored)

    def _witnesses(self, command: PlaceOrder, events: Sequence[Event]) -> list[str]:
        """The resting order a refused or stopped taker was judged against, when that decision
        writes it not: its commit must find it still open. Its owner may have cancelled it, the
        cancel final in DynamoDB and its CancelRequested not yet sequenced; the check then
        refuses the commit, the rebuilt book sequences that cancel first, and the taker is judged
        again without it (docs/architecture.md, "The data path")."""
        for event in events:
            if (isinstance(event, OrderCancelled) and event.order_id == command.order_id
                    and event.reason in UNWRITTEN_DECISIONS):
                owner = command.client_id if UNWRITTEN_DECISIONS[event.reason] else None
                witness = self.engine.first_crossing(command.side, command.price, owner)
                return [witness] if witness is not None else []
        return []

    def _already_applied(self, received: Received) -> bool:
        """A redelivery of a message this shard has committed (its delete was lost): its SQS
        SequenceNumber is at or below the shard's lastSqsSeq."""
        return bool(received.sqs_seq) and received.sqs_seq <= self.last_sqs_seq

    def _command(self, message: wire.Message, states: dict[str, OrderItem],
                 ts: int) -> Command | None:
        if isinstance(message, wire.CancelRequested):
            if message.symbol != self.symbol:
                return None
            return CancelOrder(message.orderId, message.clientId, ts)
        stored = states.get(message.orderId)
        if stored is None or not storage.is_matchable(stored, self.symbol):
            # Already matched (a redelivery), cancelled before it reached us, or unknown: the
            # order's state in DynamoDB is the dedupe of record (docs/rules.md, idempotency).
            return None
        if self.engine.order(message.orderId) is not None:
            return None
        side: Side = "BUY" if stored.side == "BUY" else "SELL"
        tif: TimeInForce = ("IOC" if stored.time_in_force == "IOC" else
                            "FOK" if stored.time_in_force == "FOK" else "GTC")
        return PlaceOrder(stored.order_id, stored.client_id, side, stored.price_ticks, stored.qty,
                          ts, tif, stored.post_only, STP_MODES.get(stored.self_trade_prevention or ""),
                          message.idempotencyKey)

    def _writes(self, events: Sequence[Event], delta: L2Delta, sqs_seq: int,
                now: str) -> tuple[CommandWrites | None, list[dict[str, Any]]]:
        if not events:
            return None, []
        puts: list[dict[str, Any]] = []
        updates: dict[str, OrderUpdate] = {}
        stored_events: list[dict[str, Any]] = []

        def touch(order_id: str, expected: int, filled: int, notional: int, status: str,
                  seq: int, open_sort: str | None = None, closed: bool = False,
                  reason: str | None = None, user_cancelled: bool = False) -> None:
            update = OrderUpdate(order_id, expected, filled, notional, status, seq, open_sort,
                                 closed, reason, user_cancelled)
            earlier = updates.get(order_id)
            updates[order_id] = earlier.merge(update) if earlier else update

        for index, event in enumerate(events):
            kind, payload = event_payload(event, self.epoch)
            if index == len(events) - 1:
                payload["l2"] = {"bids": _levels(delta.bids), "asks": _levels(delta.asks)}
            stored_events.append({"seq": event.seq, "symbol": self.symbol, "type": kind,
                                  "ts": now, "payload": payload})
            if isinstance(event, TradeExecuted):
                puts.append(storage.trade_put(
                    self.cfg, self.symbol, self.epoch, event.seq, event.price, event.qty, event.taker_side,
                    (event.maker_order_id, event.maker_client_id),
                    (event.taker_order_id, event.taker_client_id), now))
                notional = event.price * event.qty
                for order_id, client_id, filled, remaining in (
                        (event.maker_order_id, event.maker_client_id, event.maker_filled,
                         event.maker_remaining),
                        (event.taker_order_id, event.taker_client_id, event.taker_filled,
                         event.taker_remaining)):
                    if client_id == SIM_CLIENT_ID:
                        continue  # SimFill's simulated counterparty has no order item
                    touch(order_id, filled - event.qty, filled, notional,
                          FILLED if remaining == 0 else PARTIALLY_FILLED, event.seq,
                          closed=remaining == 0)
            elif isinstance(event, OrderOpened):
                touch(event.order_id, event.filled, event.filled, 0,
                      OPEN if event.filled == 0 else PARTIALLY_FILLED, event.seq,
                      open_sort=resting_sort_key(event.seq))
            elif isinstance(event, OrderCancelled):
                # A user cancel: POST /cancel already wrote CANCELLED and its reason; this takes
                # the order off the openOrders index (and records the seq that decided it).
                user = event.reason == "user"
                touch(event.order_id, event.filled, event.filled, 0, CANCELLED, event.seq,
                      closed=True, reason=None if user else event.reason, user_cancelled=user)
            elif isinstance(event, OrderRejected):
                touch(event.order_id, 0, 0, 0, CANCELLED, event.seq, closed=True,
                      reason=f"rejected:{event.reason}")
        return CommandWrites(puts, updates, events[-1].seq, sqs_seq, stored_events), stored_events

    # ------------------------------------------------------------------ fan-out
    def book_snapshot(self) -> dict[str, Any]:
        view = self.engine.l2(SNAPSHOT_DEPTH)

        def side(levels: Sequence[tuple[int, int, int]]) -> list[dict[str, Any]]:
            return [{"price": from_ticks(p), "qty": q, "orders": c} for p, q, c in levels]

        return {"symbol": self.symbol, "seq": self.engine.last_seq, "bids": side(view.bids),
                "asks": side(view.asks), "ts": now_iso()}

    def publication(self, events: Sequence[dict[str, Any]]) -> Publication | None:
        """After the commit only: what to publish for it (None when there is nothing to do)."""
        if self.listener is None or not events:
            return None
        return Publication(list(events), self.book_snapshot(), time.perf_counter())

    def deliver(self, publication: Publication) -> None:
        """Hand a committed batch to the listener; best effort (the state of record is already
        durable, clients resync by seq), so it never raises. Touches no engine state: the loop may
        call it on a publisher thread."""
        assert self.listener is not None
        try:
            self.listener.committed(self.symbol, publication.events, publication.snapshot)
        except Exception:
            log.exception("publish failed (clients resync by seq)", extra={"symbol": self.symbol})
        metrics.observe_event_lag("commit_to_publish", time.perf_counter() - publication.committed_at)

    def publish(self, events: Sequence[dict[str, Any]]) -> None:
        """Publish a committed batch synchronously (publication + deliver)."""
        publication = self.publication(events)
        if publication is not None:
            self.deliver(publication)
