"""Order-entry reads: never mutate (docs/rules.md, retries). Items become the contract's JSON
shapes here (docs/api.md)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import redis

from matching.engine.units import from_ticks
from orders import storage
from orders.domain import TICKS_PER_UNIT
from tulip import regions
from tulip.clock import now_iso
from tulip.config import Config
from tulip.errors import NotFound, Unavailable, ValidationFailed
from tulip.params import int_param
from tulip.schema import DEFAULT_SELF_TRADE_PREVENTION, OrderItem, TradeItem, book_snapshot_key

log = logging.getLogger("orders.selectors")
MAX_DEPTH = 50
DEFAULT_DEPTH = 5


def order_json(order: OrderItem) -> dict[str, Any]:
    filled = int(order.filled_qty or 0)
    notional = int(order.filled_notional or 0)
    average = None
    if filled:
        # notional is an exact integer (ticks × lots); the average need not sit on a tick, so it
        # gets up to 4 decimals ("101.25", "101.2567").
        exact = (Decimal(notional) / filled / TICKS_PER_UNIT).quantize(Decimal("0.0001"))
        average = str(exact.quantize(Decimal("0.01"))) if exact % Decimal("0.01") == 0 else str(exact)
    return {
        "orderId": order.order_id,
        "clientId": order.client_id,
        "symbol": order.symbol,
        "side": order.side,
        "qty": int(order.qty),
        "price": from_ticks(int(order.price_ticks)),
        "timeInForce": order.time_in_force,
        "postOnly": bool(order.post_only),
        "selfTradePrevention": order.self_trade_prevention or DEFAULT_SELF_TRADE_PREVENTION,
        "status": order.status,
        "filledQty": filled,
        "avgFillPrice": average,
        "createdAt": order.created_at,
        "acceptedAt": order.accepted_at,
        "updatedAt": order.updated_at,
        "region": order.region,
        "seq": int(order.seq) if order.seq is not None else None,
        # Only on an order a follower took while the leader was unreachable (docs/api.md).
        **({"provisional": True} if order.provisional else {}),
    }


def trade_json(trade: TradeItem) -> dict[str, Any]:
    return {
        "tradeId": trade.trade_id,
        "symbol": trade.symbol,
        "price": from_ticks(int(trade.price_ticks)),
        "qty": int(trade.qty),
        "takerSide": trade.taker_side,
        "seq": int(trade.seq),
        "ts": trade.ts,
    }


def fill_json(side: str, trade: TradeItem) -> dict[str, Any]:
    return {
        "tradeId": trade.trade_id,
        "orderId": trade.buy_order_id if side == "BUY" else trade.sell_order_id,
        "symbol": trade.symbol,
        "side": side,
        "price": from_ticks(int(trade.price_ticks)),
        "qty": int(trade.qty),
        "liquidity": "taker" if trade.taker_side == side else "maker",
        "seq": int(trade.seq),
        "ts": trade.ts,
    }


def get_order(cfg: Config, client_id: str, order_id: str) -> dict[str, Any]:
    if not (order_id.isalnum() and len(order_id) <= 64):
        raise NotFound("No such order.", {"orderId": order_id})
    order = storage.get_order(order_id)
    if order is None or order.client_id != client_id:
        raise no_such_order(cfg, order_id)
    return order_json(order)


def no_such_order(cfg: Config, order_id: str) -> NotFound | Unavailable:
    """The answer for an order this region does not hold for the caller. Someone else's order is
    indistinguishable from a missing one (no probing). While this replica may lag another
    region's (regions.replica_may_lag) the order may exist there: 503, retry, not a final 404."""
    if regions.replica_may_lag(cfg):
        return Unavailable("This region may not hold every region's orders yet (a partition, or "
                           "replication catching up); retry shortly.", {"orderId": order_id})
    return NotFound("No such order.", {"orderId": order_id})


def _symbol(cfg: Config, value: str | None, required: bool = False) -> str | None:
    if value is None or value == "":
        return cfg.default_symbol if required else None
    if value not in cfg.symbols:
        raise ValidationFailed("Unknown symbol.", {"symbol": [f"must be one of "
                                                              f"{', '.join(cfg.symbols)}"]})
    return value


def list_orders(cfg: Config, client_id: str, params: dict[str, str]) -> dict[str, Any]:
    status = params.get("status") or "all"
    if status not in ("open", "all"):
        raise ValidationFailed("status must be open or all.", {"status": ["must be open or all"]})
    symbol = _symbol(cfg, params.get("symbol"))
    limit = int_param("limit", params.get("limit"), 50, 1, storage.MAX_PAGE)
    try:
        page = storage.client_orders(client_id, symbol, status == "open", limit,
                                     params.get("cursor"))
    except storage.BadCursor:
        raise ValidationFailed("The cursor is not valid.", {"cursor": ["not a cursor we issued"]}) from None
    return {"items": [order_json(o) for o in page.items], "nextCursor": page.next_cursor}


def list_trades(cfg: Config, params: dict[str, str]) -> dict[str, Any]:
    symbol = _symbol(cfg, params.get("symbol"), required=True)
    assert symbol is not None
    limit = int_param("limit", params.get("limit"), 50, 1, storage.MAX_PAGE)
    return {"items": [trade_json(t) for t in storage.recent_trades(symbol, limit)],
            "nextCursor": None}


def list_fills(cfg: Config, client_id: str, params: dict[str, str]) -> dict[str, Any]:
    limit = int_param("limit", params.get("limit"), 50, 1, storage.MAX_PAGE)
    before = params.get("cursor")
    before_seq = int_param("cursor", before, 0, 1, 2**62) if before else None
    symbol = _symbol(cfg, params.get("symbol"))
    fills = storage.client_fills(client_id, limit, before_seq)
    items = [fill_json(side, t) for side, t in fills if symbol is None or t.symbol == symbol]
    next_cursor = str(int(fills[-1][1].seq)) if len(fills) == limit else None
    return {"items": items, "nextCursor": next_cursor}


def get_book(cfg: Config, params: dict[str, str]) -> dict[str, Any]:
    symbol = _symbol(cfg, params.get("symbol"), required=True)
    assert symbol is not None
    depth = int_param("depth", params.get("depth"), DEFAULT_DEPTH, 1, MAX_DEPTH)
    snapshot = current_book(cfg, symbol)
    return {**snapshot, "bids": snapshot["bids"][:depth], "asks": snapshot["asks"][:depth]}


def current_book(cfg: Config, symbol: str) -> dict[str, Any]:
    """The book as the matcher last published it (Redis), else as DynamoDB holds it. A region
    that does not lead has no matcher publishing into its cache: its replica is the book."""
    snapshot = _cached_book(cfg, symbol) if regions.current(cfg).leads else None
    return snapshot if snapshot is not None else book_from_dynamodb(symbol)


def _cached_book(cfg: Config, symbol: str) -> dict[str, Any] | None:
    """Redis is an optimisation (docs/rules.md): any failure is a miss, never an error."""
    try:
        raw: Any = redis.Redis.from_url(cfg.redis_url, socket_timeout=0.5,
                                        socket_connect_timeout=0.5).get(
            book_snapshot_key(cfg.redis_key_prefix, symbol))
        if raw is None:
            return None
        cached: dict[str, Any] = json.loads(raw)
        return cached
    except Exception:
        log.warning("book cache unavailable; reading DynamoDB", extra={"symbol": symbol})
        return None


def book_from_dynamodb(symbol: str) -> dict[str, Any]:
    """Aggregate the resting open orders (the openOrders index) into levels."""
    seq = storage.shard_last_seq(symbol)
    levels: dict[str, dict[int, list[int]]] = {"BUY": {}, "SELL": {}}
    for order in storage.resting_orders(symbol):
        remaining = order.remaining
        if remaining <= 0:
            continue
        level = levels[order.side].setdefault(int(order.price_ticks), [0, 0])
        level[0] += remaining
        level[1] += 1

    def side(name: str, best_first_desc: bool) -> list[dict[str, Any]]:
        prices = sorted(levels[name], reverse=best_first_desc)
        return [{"price": from_ticks(p), "qty": levels[name][p][0],
                 "orders": levels[name][p][1]} for p in prices]

    return {"symbol": symbol, "seq": seq, "bids": side("BUY", True), "asks": side("SELL", False),
            "ts": now_iso()}

