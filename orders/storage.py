"""The only DynamoDB code of order entry: every condition expression it writes with, and its
reads (a client's orders and fills, recent trades, the open orders of a symbol, a shard's seq).

The items are tulip.schema's (orders and idempotency records in the orders table; trades and
shard items, written by the matcher, in the trades table); docs/storage.md describes them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from tulip import aws, schema
from tulip import storage as platform_storage
from tulip.combiner import Combiner
from tulip.config import Config
from tulip.schema import (
    ACCEPTED,
    CANCELLED,
    OPEN_STATES,
    RESTING_SORT_PREFIX,
    USER_CANCEL_REASON,
    CancelItem,
    IdempotencyItem,
    OrderItem,
    ShardItem,
    TradeItem,
    raw_key,
)
from tulip.transient import aws_error_code

MAX_PAGE = 100


# ------------------------------------------------------------------------------------ accept
class AlreadyExists(Exception):
    """The idempotency record (or, astronomically unlikely, the order id) already exists."""


ACCEPT_BATCH_MAX = 25  # orders per transaction: 50 of TransactWriteItems' 100 items
CONFLICT_CODES = ("ConditionalCheckFailed", "TransactionConflict")
Accept = tuple[OrderItem, IdempotencyItem]


def put_order_with_idempotency(order: OrderItem, record: IdempotencyItem) -> None:
    """The order and its idempotency record both appear, or neither does: one transaction,
    shared with the orders other request threads of this process accept at the same moment
    (group commit, tulip/combiner.py; docs/benchmarks.md, "Accept path over HTTP"). Raises
    AlreadyExists when this key (or id) exists; returns once this order is durable."""
    _accept_combiner.submit((order, record))


def _write_accepts(accepts: Sequence[Accept]) -> list[None | BaseException]:
    """One transaction for all of `accepts`. An order whose condition fails is answered
    AlreadyExists, and the transaction is made again without it: one order's replay must not
    cost the others their write. Each round removes at least one order, so at most len rounds.

    One transaction may not write an item twice, so a second submit of a key already in the
    batch is not written: it lost the race to the first, and is answered as a replay of it
    (AlreadyExists) once the first is durable or found to exist."""
    outcomes: list[None | BaseException] = [None] * len(accepts)
    first_of: dict[str, int] = {}
    for index, (_, record) in enumerate(accepts):
        first_of.setdefault(record.pk, index)
    _write_rounds(accepts, sorted(first_of.values()), outcomes)
    for index, (_, record) in enumerate(accepts):
        first = first_of[record.pk]
        if first != index:
            lost = outcomes[first] is None or isinstance(outcomes[first], AlreadyExists)
            outcomes[index] = AlreadyExists() if lost else outcomes[first]
    return outcomes


def _write_rounds(accepts: Sequence[Accept], remaining: list[int],
                  outcomes: list[None | BaseException]) -> None:
    while remaining:
        try:
            with TransactWrite(connection=schema.transactions()) as transaction:
                for index in remaining:
                    order, record = accepts[index]
                    transaction.save(order, condition=OrderItem.pk.does_not_exist())
                    transaction.save(record, condition=IdempotencyItem.pk.does_not_exist())
            return
        except TransactWriteError as exc:
            # ConditionalCheckFailed: the key (or id) exists. TransactionConflict: real DynamoDB
            # cancels a transaction racing another one on the same item, i.e. a concurrent
            # submit of the same key; the caller reads the winner's record (or answers 503).
            reasons = exc.cancellation_reasons if (
                aws_error_code(exc) == "TransactionCanceledException") else []
            losers = {remaining[position // 2] for position, reason in enumerate(reasons)
                      if reason is not None and reason.code in CONFLICT_CODES}
            if not losers:
                for index in remaining:
                    outcomes[index] = exc
                return
            for index in losers:
                outcomes[index] = AlreadyExists()
            remaining = [index for index in remaining if index not in losers]


_accept_combiner: Combiner[Accept, None] = Combiner(_write_accepts, ACCEPT_BATCH_MAX)


def get_idempotency(ik: str) -> IdempotencyItem | None:
    try:
        key = IdempotencyItem.key(ik)
        return IdempotencyItem.get(key, key, consistent_read=True)
    except DoesNotExist:
        return None


def get_order(order_id: str) -> OrderItem | None:
    try:
        key = OrderItem.key(order_id)
        return OrderItem.get(key, key, consistent_read=True)
    except DoesNotExist:
        return None


# ------------------------------------------------------------------------------------ cancel
# A cancel racing the matcher reads again: the order moves ACCEPTED -> resting -> closed, and its
# filledQty only grows, so a few rounds decide every race (then: 503, retry).
CANCEL_ROUNDS = 3


class CancelContended(Exception):
    """The order kept changing under the cancel for CANCEL_ROUNDS rounds."""


def cancel_if_open(order_id: str, client_id: str, now: str, region: str) -> OrderItem | None:
    """Open -> CANCELLED (reason "user") for its owner; returns the order as it now is (None:
    no such order), which the caller judges (cancelled, or not open). One transaction,
    conditioned on the state read, writes the order and the cancel's record (CancelItem: the
    acknowledgement, which replication's last writer wins may otherwise lose).

    A resting order keeps its openOrders entry ("B#<seq>"): the matcher removes it in the commit
    that sequences the cancel (OrderCancelled), so a book rebuilt before that (a takeover, a
    failover, a rejected commit) still finds the cancel and sequences it (docs/architecture.md,
    "The data path"). An ACCEPTED order leaves the index at once: it was never on a book, and
    the matcher skips it."""
    for _ in range(CANCEL_ROUNDS):
        order = get_order(order_id)
        if order is None or order.client_id != client_id or order.status not in OPEN_STATES:
            return order
        leaves_index = order.status == ACCEPTED
        actions: list[Any] = [OrderItem.status.set(CANCELLED),
                              OrderItem.cancel_reason.set(USER_CANCEL_REASON),
                              OrderItem.updated_at.set(now)]
        if leaves_index:
            actions += [OrderItem.open_symbol.remove(), OrderItem.open_sort.remove()]
        record = CancelItem(CancelItem.key(order_id), CancelItem.key(order_id), order_id=order_id,
                            client_id=client_id, symbol=order.symbol, cancelled_at=now,
                            region=region)
        try:
            with TransactWrite(connection=schema.transactions()) as transaction:
                transaction.update(order, actions=actions, condition=(
                    (OrderItem.client_id == client_id) & (OrderItem.status == order.status)
                    & (OrderItem.filled_qty == order.filled_qty)))
                transaction.save(record)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons if (
                aws_error_code(exc) == "TransactionCanceledException") else []
            if any(r is not None and r.code in CONFLICT_CODES for r in reasons):
                continue  # the matcher (or a twin cancel) changed it since the read
            raise
        order.status, order.cancel_reason, order.updated_at = CANCELLED, USER_CANCEL_REASON, now
        if leaves_index:
            order.open_symbol = order.open_sort = None
        return order
    raise CancelContended(order_id)


def mark_swept(order_id: str, now: str) -> bool:
    """Claim an ACCEPTED order for re-enqueueing (healthchecks-style conditional claim): only one
    sweeper per interval re-sends it. False when it is no longer ACCEPTED.

    It sets updatedAt as every write of an order does: replication between regions recognises a
    local write by it (devstack/replicator.py, `_held_condition`). A claim that left it as it was
    let another region's older change of the order (a deposed leader's cancel) replace the claim
    unseen, and the two regions then held different versions of the order for good (region chaos
    seed 2208)."""
    order = OrderItem(OrderItem.key(order_id), OrderItem.key(order_id))
    try:
        order.update(actions=[OrderItem.swept_at.set(now), OrderItem.updated_at.set(now)],
                     condition=OrderItem.status == ACCEPTED)
    except UpdateError as exc:
        if aws_error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


# ------------------------------------------------------------------------------------ queries
@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    next_cursor: str | None


class BadCursor(ValueError):
    pass


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor(cursor) from None
    if not isinstance(key, dict) or not all(isinstance(v, dict) for v in key.values()):
        raise BadCursor(cursor)
    return key


def client_orders(client_id: str, symbol: str | None, open_only: bool, limit: int,
                  cursor: str | None) -> Page:
    condition: Any = None
    if symbol:
        condition = OrderItem.symbol == symbol
    if open_only:
        state = OrderItem.status.is_in(*OPEN_STATES)
        condition = state if condition is None else condition & state
    start = decode_cursor(cursor)
    items: list[OrderItem] = []
    # A filter can leave a page short; read on, but a bounded number of pages per request.
    for _ in range(20):
        result = OrderItem.client_orders.query(
            client_id, filter_condition=condition, scan_index_forward=False,
            limit=limit - len(items), last_evaluated_key=start)
        items.extend(result)
        start = result.last_evaluated_key
        if start is None or len(items) >= limit:
            break
    return Page(items, encode_cursor(start))


def open_orders(symbol: str, prefix: str, upper: str | None = None) -> Iterator[OrderItem]:
    """The sparse openOrders index: RESTING_SORT_PREFIX = resting in priority order,
    ACCEPTED_SORT_PREFIX = accepted, not yet matched (the sweeper's range, up to `upper`)."""
    condition: Any
    if upper is None:
        condition = OrderItem.open_sort.startswith(prefix)
    else:
        condition = OrderItem.open_sort.between(prefix, upper)
    yield from OrderItem.open_orders.query(symbol, condition)


def on_chain(trade: TradeItem) -> bool:
    """A trade of the shard's canonical history (not a deposed region's un-replicated tail,
    tulip/epochs.py): the only ones served."""
    return platform_storage.chain(trade.symbol).covers(trade.epoch, trade.seq)


def recent_trades(symbol: str, limit: int) -> list[TradeItem]:
    # Twice the limit read, so that a few off-chain trades after a failover do not shorten the
    # answer; off-chain trades exist only around a region failover.
    trades = TradeItem.symbol_trades.query(symbol, scan_index_forward=False, limit=2 * limit)
    return [t for t in trades if on_chain(t)][:limit]


def client_fills(client_id: str, limit: int, before_seq: int | None) -> list[tuple[str, TradeItem]]:
    """(side, trade) pairs for the caller, newest first, merged from the buyer and seller indexes."""
    merged: list[tuple[str, TradeItem]] = []
    for side, index in (("BUY", TradeItem.buyer_fills), ("SELL", TradeItem.seller_fills)):
        condition = None if before_seq is None else TradeItem.seq < before_seq
        merged.extend((side, trade) for trade in index.query(
            client_id, condition, scan_index_forward=False, limit=2 * limit) if on_chain(trade))
    merged.sort(key=lambda pair: (-int(pair[1].seq), pair[0]))
    return merged[:limit]


def shard_last_seq(symbol: str) -> int:
    try:
        key = ShardItem.key(symbol)
        shard = ShardItem.get(key, key, consistent_read=True)
    except DoesNotExist:
        return 0
    return int(shard.last_seq)


def resting_orders(symbol: str) -> Iterator[OrderItem]:
    """The open orders on the book of `symbol`, in priority order."""
    return (o for o in open_orders(symbol, RESTING_SORT_PREFIX) if o.status in OPEN_STATES)


def held_by_region(cfg: Config, region: str, order_id: str) -> bool:
    """Whether another region's replica already holds the order (REPLICATION=sync)."""
    item = aws.client("dynamodb", cfg, region=region).get_item(
        TableName=cfg.orders_table, Key=raw_key(OrderItem.key(order_id)), ConsistentRead=True,
        ProjectionExpression="pk")
    return "Item" in item
