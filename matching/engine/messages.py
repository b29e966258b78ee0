"""Commands in, events out: the engine's whole contract, as frozen slotted dataclasses.

Prices are integer ticks and quantities integer lots (see ``units.py`` for the edge conversion).
Time (``ts``, epoch ms by convention) and ids arrive inside the command; the engine never reads a
clock.  Every event carries ``seq`` (strictly increasing and gap-free per engine, i.e. per shard)
and ``symbol``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from matching.engine._fast import fast_constructor

Side: TypeAlias = Literal["BUY", "SELL"]
TimeInForce: TypeAlias = Literal["GTC", "IOC", "FOK"]
# Self-trade prevention: which side of a would-be self trade is cancelled.
StpMode: TypeAlias = Literal["cancel_newest", "cancel_oldest", "cancel_both"]
CancelReason: TypeAlias = Literal["user", "ioc_remainder", "fok_unfilled", "post_only", "self_trade"]
RejectReason: TypeAlias = Literal[
    "invalid_side", "invalid_price", "invalid_qty", "invalid_tif", "invalid_stp", "wrong_symbol"
]
CancelRejectReason: TypeAlias = Literal["not_open", "not_owner"]

SIDES: Final = ("BUY", "SELL")
TIFS: Final = ("GTC", "IOC", "FOK")
STP_MODES: Final = ("cancel_newest", "cancel_oldest", "cancel_both")

# ---------------------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Submit a limit order.  ``stp=None`` means the engine's default self-trade mode."""

    order_id: str
    client_id: str
    side: Side
    price: int  # ticks
    qty: int  # lots
    ts: int
    tif: TimeInForce = "GTC"
    post_only: bool = False
    stp: StpMode | None = None
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the open remainder of ``order_id``; only its owner (``client_id``) may."""

    order_id: str
    client_id: str
    ts: int


Command: TypeAlias = PlaceOrder | CancelOrder

# ------------------------------------------------------------------------------------------ events


@dataclass(frozen=True, slots=True)
class OrderOpened:
    """The order now rests on the book with ``remaining`` lots (after any immediate fills)."""

    seq: int
    symbol: str
    ts: int
    order_id: str
    client_id: str
    side: Side
    price: int
    qty: int
    remaining: int
    filled: int


@dataclass(frozen=True, slots=True)
class TradeExecuted:
    """One fill between a resting maker and the incoming taker, at the maker's price.

    The remaining/filled figures are each leg's state *after* this fill, so a store can condition
    its update on ``filled - qty`` being the current filled quantity.
    """

    seq: int
    symbol: str
    ts: int
    price: int
    qty: int
    taker_side: Side
    maker_order_id: str
    maker_client_id: str
    maker_remaining: int
    maker_filled: int
    taker_order_id: str
    taker_client_id: str
    taker_remaining: int
    taker_filled: int


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """The order's open remainder (``remaining`` lots, now cancelled) left the book or never rested."""

    seq: int
    symbol: str
    ts: int
    order_id: str
    client_id: str
    reason: CancelReason
    remaining: int
    filled: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The PlaceOrder was invalid; nothing changed except ``seq``."""

    seq: int
    symbol: str
    ts: int
    order_id: str
    client_id: str
    reason: RejectReason


@dataclass(frozen=True, slots=True)
class CancelRejected:
    """The CancelOrder named an order that is unknown, finished, or someone else's."""

    seq: int
    symbol: str
    ts: int
    order_id: str
    client_id: str
    reason: CancelRejectReason


Event: TypeAlias = OrderOpened | TradeExecuted | OrderCancelled | OrderRejected | CancelRejected

# (price ticks, aggregated qty lots, order count); qty 0 / count 0 in a delta = level left the view.
Level: TypeAlias = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class L2Delta:
    """Levels of the top-N view changed by one command, best first; empty when nothing changed."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class L2View:
    """Top levels of both sides, best first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class CommandResult:
    events: tuple[Event, ...]
    l2_delta: L2Delta


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """A resting order as stored; the unit of snapshots and of rebuilding from the store."""

    order_id: str
    client_id: str
    side: Side
    price: int
    qty: int
    filled: int


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """Everything needed to continue exactly where an engine stopped."""

    kind: str
    symbol: str
    last_seq: int
    depth: int
    stp_default: StpMode
    # Priority order: bids best price first then FIFO, then asks likewise.
    orders: tuple[OpenOrder, ...]
    # Every order id ever accepted (dedupe memory), sorted so the snapshot is deterministic.
    known_order_ids: tuple[str, ...]


EMPTY_DELTA: Final = L2Delta((), ())

# Fast constructors used on the hot path (see _fast.py for why).
new_opened: Final = fast_constructor(OrderOpened)
new_trade: Final = fast_constructor(TradeExecuted)
new_cancelled: Final = fast_constructor(OrderCancelled)
new_rejected: Final = fast_constructor(OrderRejected)
new_cancel_rejected: Final = fast_constructor(CancelRejected)
new_delta: Final = fast_constructor(L2Delta)
new_result: Final = fast_constructor(CommandResult)
