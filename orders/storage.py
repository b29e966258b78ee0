"""The only DynamoDB code for order entry: PynamoDB models and every condition expression.

Orders table (ORDERS_TABLE):
  ORDER#<orderId>   the order (spec §8 fields + symbol, timeInForce, postOnly, filledQty, seq...)
  IDEMP#<IK>        idempotency record: fingerprint + orderId, TTL `expiresAt` >= 72 h
Trades table (TRADES_TABLE, written by the matcher; read here):
  TRADE#<tradeId>   a trade, with both legs' order and client ids
  SHARD#<symbol>    the matcher's shard item (lastSeq, epoch)
Indexes: see tulip/localstack/provision.py (the same shapes deploy/ creates).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from orders.domain import OPEN_STATES
from tulip.config import Config

IDEMPOTENCY_TTL_S = 7 * 24 * 3600  # contract: >= 72 h; a week leaves room for slow retriers
ORDER_PREFIX = "ORDER#"
IDEMP_PREFIX = "IDEMP#"
TRADE_PREFIX = "TRADE#"
SHARD_PREFIX = "SHARD#"
MAX_PAGE = 100


def order_pk(order_id: str) -> str:
    return f"{ORDER_PREFIX}{order_id}"


def accepted_sort_key(accepted_at: str, order_id: str) -> str:
    """openOrders range key while ACCEPTED: the sweeper finds the old ones by range."""
    return f"A#{accepted_at}#{order_id}"


def resting_sort_key(seq: int) -> str:
    """openOrders range key once resting: the book's priority order (the seq it rested at)."""
    return f"B#{seq:020d}"


class ClientOrdersIndex(GlobalSecondaryIndex["OrderItem"]):
    class Meta:
        index_name = "clientOrders"
        projection = AllProjection()

    client_id = UnicodeAttribute(hash_key=True, attr_name="clientId")
    created_at = UnicodeAttribute(range_key=True, attr_name="createdAt")


class OpenOrdersIndex(GlobalSecondaryIndex["OrderItem"]):
    class Meta:
        index_name = "openOrders"
        projection = AllProjection()

    open_symbol = UnicodeAttribute(hash_key=True, attr_name="openSymbol")
    open_sort = UnicodeAttribute(range_key=True, attr_name="openSort")


class OrderItem(Model):
    class Meta:
        table_name = "tulip-orders"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute(attr_name="orderId")
    client_id = UnicodeAttribute(attr_name="clientId")
    idempotency_key = UnicodeAttribute(attr_name="idempotencyKey")  # IK hash, spec §5
    symbol = UnicodeAttribute()
    side = UnicodeAttribute()
    qty = NumberAttribute()
    price_ticks = NumberAttribute(attr_name="priceTicks")
    time_in_force = UnicodeAttribute(attr_name="timeInForce")
    post_only = BooleanAttribute(attr_name="postOnly")
    status = UnicodeAttribute()
    filled_qty = NumberAttribute(attr_name="filledQty", default=0)
    # Σ price_ticks × qty over fills, so avgFillPrice is exact integer arithmetic.
    filled_notional = NumberAttribute(attr_name="filledNotionalTicks", default=0)
    created_at = UnicodeAttribute(attr_name="createdAt")
    accepted_at = UnicodeAttribute(attr_name="acceptedAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    region = UnicodeAttribute()
    accepted_az = UnicodeAttribute(attr_name="acceptedAz", null=True)
    seq = NumberAttribute(null=True)
    cancel_reason = UnicodeAttribute(attr_name="cancelReason", null=True)
    open_symbol = UnicodeAttribute(attr_name="openSymbol", null=True)
    open_sort = UnicodeAttribute(attr_name="openSort", null=True)
    swept_at = UnicodeAttribute(attr_name="sweptAt", null=True)

    client_orders = ClientOrdersIndex()
    open_orders = OpenOrdersIndex()


class IdempotencyItem(Model):
    class Meta:
        table_name = "tulip-orders"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    order_id = UnicodeAttribute(attr_name="orderId")
    # Not "clientId"/"createdAt": those names would project the record into clientOrders.
    client_id = UnicodeAttribute(attr_name="ownerClientId")
    fingerprint = UnicodeAttribute()
    created_at = UnicodeAttribute(attr_name="recordedAt")
    expires_at = NumberAttribute(attr_name="expiresAt")


class SymbolTradesIndex(GlobalSecondaryIndex["TradeItem"]):
    class Meta:
        index_name = "symbolTrades"
        projection = AllProjection()

    # Only trades carry tradeSymbol: market events also have `symbol` and `seq` and must not
    # appear in this index.
    trade_symbol = UnicodeAttribute(hash_key=True, attr_name="tradeSymbol")
    seq = NumberAttribute(range_key=True)


class BuyerFillsIndex(GlobalSecondaryIndex["TradeItem"]):
    class Meta:
        index_name = "buyerFills"
        projection = AllProjection()

    buy_client_id = UnicodeAttribute(hash_key=True, attr_name="buyClientId")
    seq = NumberAttribute(range_key=True)


class SellerFillsIndex(GlobalSecondaryIndex["TradeItem"]):
    class Meta:
        index_name = "sellerFills"
        projection = AllProjection()

    sell_client_id = UnicodeAttribute(hash_key=True, attr_name="sellClientId")
    seq = NumberAttribute(range_key=True)


class TradeItem(Model):
    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    trade_id = UnicodeAttribute(attr_name="tradeId")
    symbol = UnicodeAttribute()
    trade_symbol = UnicodeAttribute(attr_name="tradeSymbol")
    seq = NumberAttribute()
    price_ticks = NumberAttribute(attr_name="priceTicks")
    qty = NumberAttribute()
    taker_side = UnicodeAttribute(attr_name="takerSide")
    buy_order_id = UnicodeAttribute(attr_name="buyOrderId")
    sell_order_id = UnicodeAttribute(attr_name="sellOrderId")
    buy_client_id = UnicodeAttribute(attr_name="buyClientId")
    sell_client_id = UnicodeAttribute(attr_name="sellClientId")
    ts = UnicodeAttribute()
    region = UnicodeAttribute()
    fill_az = UnicodeAttribute(attr_name="fillAz", null=True)

    symbol_trades = SymbolTradesIndex()
    buyer_fills = BuyerFillsIndex()
    seller_fills = SellerFillsIndex()


class ShardItem(Model):
    class Meta:
        table_name = "tulip-trades"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    last_seq = NumberAttribute(attr_name="lastSeq", default=0)
    epoch = NumberAttribute(default=0)


_MODELS: tuple[type[Model], ...] = (OrderItem, IdempotencyItem, TradeItem, ShardItem)
_bound: Config | None = None
_transactions: Connection | None = None


def bind(cfg: Config) -> None:
    """Point the models at the configured tables and endpoint. Called once per process by the
    app's ready(); tests that drive storage in-process call it with their stack's config."""
    global _bound, _transactions
    if _bound == cfg:
        return
    for model in _MODELS:
        meta: Any = model.Meta
        meta.table_name = cfg.orders_table if model in (OrderItem, IdempotencyItem) else (
            cfg.trades_table)
        meta.region = cfg.aws_region
        meta.host = cfg.aws_endpoint_url
        meta.aws_access_key_id = "testing" if cfg.aws_endpoint_url else None
        meta.aws_secret_access_key = "testing" if cfg.aws_endpoint_url else None
        meta.connect_timeout_seconds = 2
        meta.read_timeout_seconds = 10
        meta.max_retry_attempts = 3
        meta.max_pool_connections = 50
        model._connection = None  # rebuilt lazily with the new settings (indexes use it too)
    _transactions = Connection(
        region=cfg.aws_region, host=cfg.aws_endpoint_url, connect_timeout_seconds=2,
        read_timeout_seconds=10, max_retry_attempts=3, max_pool_connections=50,
        aws_access_key_id="testing" if cfg.aws_endpoint_url else None,
        aws_secret_access_key="testing" if cfg.aws_endpoint_url else None)
    _bound = cfg


# ------------------------------------------------------------------------------------ accept
class AlreadyExists(Exception):
    """The idempotency record (or, astronomically unlikely, the order id) already exists."""


def put_order_with_idempotency(order: OrderItem, record: IdempotencyItem) -> None:
    """ONE transaction: the order and its idempotency record both appear, or neither does."""
    try:
        assert _transactions is not None, "orders.storage.bind() was not called"
        with TransactWrite(connection=_transactions) as transaction:
            transaction.save(order, condition=OrderItem.pk.does_not_exist())
            transaction.save(record, condition=IdempotencyItem.pk.does_not_exist())
    except TransactWriteError as exc:
        # ConditionalCheckFailed: the key (or id) exists. TransactionConflict: real DynamoDB
        # cancels a transaction racing another one on the same item, i.e. a concurrent submit
        # of the same key; the caller reads the winner's record (or answers 503 to retry).
        if exc.cause_response_code == "TransactionCanceledException" and any(
                reason is not None and reason.code in ("ConditionalCheckFailed", "TransactionConflict")
                for reason in exc.cancellation_reasons):
            raise AlreadyExists from None
        raise


def get_idempotency(ik: str) -> IdempotencyItem | None:
    try:
        return IdempotencyItem.get(IDEMP_PREFIX + ik, IDEMP_PREFIX + ik, consistent_read=True)
    except DoesNotExist:
        return None


def get_order(order_id: str) -> OrderItem | None:
    try:
        return OrderItem.get(order_pk(order_id), order_pk(order_id), consistent_read=True)
    except DoesNotExist:
        return None


# ------------------------------------------------------------------------------------ cancel
def cancel_if_open(order_id: str, client_id: str, now: str) -> OrderItem | None:
    """Open -> CANCELLED, only for the owner. None when the condition failed (not found, not the
    owner's, or no longer open): the caller reads the order to tell which."""
    order = OrderItem(order_pk(order_id), order_pk(order_id))
    try:
        order.update(
            actions=[
                OrderItem.status.set("CANCELLED"),
                OrderItem.cancel_reason.set("user"),
                OrderItem.updated_at.set(now),
                OrderItem.open_symbol.remove(),
                OrderItem.open_sort.remove(),
            ],
            condition=(OrderItem.pk.exists() & (OrderItem.client_id == client_id)
                       & OrderItem.status.is_in(*OPEN_STATES)),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return order


def mark_swept(order_id: str, now: str) -> bool:
    """Claim an ACCEPTED order for re-enqueueing (healthchecks-style conditional claim): only one
    sweeper per interval re-sends it. False when it is no longer ACCEPTED."""
    order = OrderItem(order_pk(order_id), order_pk(order_id))
    try:
        order.update(actions=[OrderItem.swept_at.set(now)],
                     condition=OrderItem.status == "ACCEPTED")
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
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
    """The sparse openOrders index: prefix "B#" = resting in priority order, "A#" = ACCEPTED."""
    condition: Any
    if upper is None:
        condition = OrderItem.open_sort.startswith(prefix)
    else:
        condition = OrderItem.open_sort.between(prefix, upper)
    yield from OrderItem.open_orders.query(symbol, condition)


def recent_trades(symbol: str, limit: int) -> list[TradeItem]:
    return list(TradeItem.symbol_trades.query(symbol, scan_index_forward=False, limit=limit))


def client_fills(client_id: str, limit: int, before_seq: int | None) -> list[tuple[str, TradeItem]]:
    """(side, trade) pairs for the caller, newest first, merged from the buyer and seller indexes."""
    merged: list[tuple[str, TradeItem]] = []
    for side, index in (("BUY", TradeItem.buyer_fills), ("SELL", TradeItem.seller_fills)):
        condition = None if before_seq is None else TradeItem.seq < before_seq
        merged.extend((side, trade) for trade in index.query(
            client_id, condition, scan_index_forward=False, limit=limit))
    merged.sort(key=lambda pair: (-int(pair[1].seq), pair[0]))
    return merged[:limit]


def shard_last_seq(symbol: str) -> int:
    try:
        shard = ShardItem.get(SHARD_PREFIX + symbol, SHARD_PREFIX + symbol, consistent_read=True)
    except DoesNotExist:
        return 0
    return int(shard.last_seq)
