"""A naive reference order book: the oracle ``test_engine_vs_reference.py`` compares the engine with.

A reference that copies the engine's structure would repeat the engine's bugs, so this one shares
nothing with ``matching/engine`` except the message classes (the contract both speak), and it is
written the most obvious way, with no regard for speed:

* the book is ONE flat list of resting orders, in no particular order; each order carries the
  number it got when it came to rest (its arrival);
* a taker is matched by picking, again and again, the best crossing order of the other side with
  ``min()`` over ``(price, arrival)`` for asks and ``(-price, arrival)`` for bids -- price-time
  priority, spelled out -- until the taker is filled, self-trade prevention stops it, or nothing
  crosses any more; there are no price levels, no sorted ladders, no FIFO queues;
* fill-or-kill is decided by matching a throwaway copy of the book first: the order goes ahead
  only if the copy shows it would fill completely, so a refused FOK changes nothing;
* the L2 view is recomputed from the list whenever it is asked for, and a command's L2 delta is
  the difference between the views before and after the command.

The rules it encodes are the matching rules of docs/rules.md:

* validation, in this order: side, price > 0, qty > 0, time in force, self-trade mode; a rejected
  order is not remembered, so its id may be used again;
* an order id already accepted is a redelivery: no events, no change;
* post-only: an order that would cross on arrival is cancelled (``post_only``) with nothing done;
* a trade is always at the resting (maker) order's price;
* self-trade prevention, when the best crossing order belongs to the taker's own client:
  ``cancel_newest`` stops the taker (its remainder is cancelled, ``self_trade``) and leaves the
  resting order; ``cancel_oldest`` cancels the resting order and matching goes on;
  ``cancel_both`` does both; the command's ``stp`` overrides the book's default;
* what is left of the taker: cancelled (``self_trade``) if self-trade prevention stopped it, else
  rests (GTC), else is cancelled (IOC, ``ioc_remainder``); a FOK never has a remainder;
* SimFill only: after the real book, and unless self-trade prevention stopped the taker, a
  simulated counterparty fills up to ``simulated(order)`` lots at the taker's own limit price;
* cancel: only an open order, and only by its owner (``not_open`` / ``not_owner`` otherwise);
* every event gets the next sequence number, one more than the last.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from matching.engine import (
    CancelOrder,
    CancelRejected,
    Command,
    Event,
    L2Delta,
    L2View,
    OpenOrder,
    OrderCancelled,
    OrderOpened,
    OrderRejected,
    PlaceOrder,
    TradeExecuted,
)

Level = tuple[int, int, int]  # (price, total remaining qty, number of orders)

# The synthetic maker of a simulated fill: "sim:<taker order id>", owned by this client.
SIM_CLIENT = "__simfill__"


@dataclass
class RefOrder:
    order_id: str
    client_id: str
    side: str
    price: int
    qty: int
    remaining: int
    arrival: int  # when it came to rest: 1 for the first order ever rested, then 2, 3, ...

    @property
    def filled(self) -> int:
        return self.qty - self.remaining


def priority(o: RefOrder) -> tuple[int, int]:
    """Smaller goes first: the better price (lower ask, higher bid), then the earlier arrival."""
    if o.side == "SELL":
        return (o.price, o.arrival)
    return (-o.price, o.arrival)


def crosses(maker: RefOrder, taker: PlaceOrder) -> bool:
    """Could ``maker`` trade with ``taker`` at the taker's limit?"""
    if maker.side == taker.side:
        return False
    if taker.side == "BUY":
        return maker.price <= taker.price
    return maker.price >= taker.price


class ReferenceBook:
    def __init__(
        self,
        symbol: str,
        depth: int = 5,
        stp_default: str = "cancel_newest",
        last_seq: int = 0,
        simulated: Callable[[PlaceOrder], int] | None = None,
    ) -> None:
        self.symbol = symbol
        self.depth = depth
        self.stp_default = stp_default
        self.seq = last_seq
        self.orders: list[RefOrder] = []  # every resting order, in no particular order
        self.known: set[str] = set()  # every order id ever accepted
        self.arrivals = 0
        self.simulated = simulated

    # ------------------------------------------------------------------------------- views

    def in_priority(self, side: str) -> list[RefOrder]:
        return sorted((o for o in self.orders if o.side == side), key=priority)

    def levels(self, side: str) -> list[Level]:
        """Every price of ``side`` with its total and order count, best price first."""
        prices = sorted({o.price for o in self.orders if o.side == side}, reverse=(side == "BUY"))
        out = []
        for p in prices:
            at = [o for o in self.orders if o.side == side and o.price == p]
            out.append((p, sum(o.remaining for o in at), len(at)))
        return out

    def l2(self, depth: int | None = None) -> L2View:
        n = self.depth if depth is None else depth
        return L2View(tuple(self.levels("BUY")[:n]), tuple(self.levels("SELL")[:n]))

    def open_orders(self) -> list[OpenOrder]:
        """Bids best first (time order within a price), then asks the same way."""
        return [
            OpenOrder(o.order_id, o.client_id, o.side, o.price, o.qty, o.filled)  # type: ignore[arg-type]
            for side in ("BUY", "SELL")
            for o in self.in_priority(side)
        ]

    # ---------------------------------------------------------------------------- commands

    def apply(self, cmd: Command) -> tuple[list[Event], L2Delta]:
        before = self.l2()
        events = self.place(cmd) if isinstance(cmd, PlaceOrder) else self.cancel(cmd)
        after = self.l2()
        delta = L2Delta(changed(before.bids, after.bids, "BUY"), changed(before.asks, after.asks, "SELL"))
        return events, delta

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def cancel(self, cmd: CancelOrder) -> list[Event]:
        found = [o for o in self.orders if o.order_id == cmd.order_id]
        if not found:
            return [self._cancel_rejected(cmd, "not_open")]
        (o,) = found
        if o.client_id != cmd.client_id:
            return [self._cancel_rejected(cmd, "not_owner")]
        self.orders = [x for x in self.orders if x is not o]
        seq = self._next()
        ev = OrderCancelled(seq, self.symbol, cmd.ts, o.order_id, o.client_id, "user", o.remaining, o.filled)
        return [ev]

    def _cancel_rejected(self, cmd: CancelOrder, reason: str) -> CancelRejected:
        seq = self._next()
        return CancelRejected(seq, self.symbol, cmd.ts, cmd.order_id, cmd.client_id, reason)  # type: ignore[arg-type]

    def place(self, cmd: PlaceOrder) -> list[Event]:
        if cmd.order_id in self.known:
            return []  # redelivery of an accepted order
        reason = invalid(cmd)
        if reason is not None:
            return [OrderRejected(self._next(), self.symbol, cmd.ts, cmd.order_id, cmd.client_id, reason)]  # type: ignore[arg-type]
        self.known.add(cmd.order_id)
        stp = self.stp_default if cmd.stp is None else cmd.stp
        if cmd.post_only and any(crosses(o, cmd) for o in self.orders):
            return [self._cancelled(cmd, "post_only", cmd.qty)]
        if cmd.tif == "FOK":
            trial = copy.deepcopy(self)
            left, _ = trial.match(cmd, stp, [])
            if left:
                return [self._cancelled(cmd, "fok_unfilled", cmd.qty)]
        events: list[Event] = []
        remaining, stopped = self.match(cmd, stp, events)
        if remaining == 0:
            return events
        if stopped:
            events.append(self._cancelled(cmd, "self_trade", remaining))
        elif cmd.tif == "GTC":
            self.arrivals += 1
            self.orders.append(
                RefOrder(cmd.order_id, cmd.client_id, cmd.side, cmd.price, cmd.qty, remaining, self.arrivals)
            )
            events.append(
                OrderOpened(
                    self._next(),
                    self.symbol,
                    cmd.ts,
                    cmd.order_id,
                    cmd.client_id,
                    cmd.side,
                    cmd.price,
                    cmd.qty,
                    remaining,
                    cmd.qty - remaining,
                )
            )
        elif cmd.tif == "IOC":
            events.append(self._cancelled(cmd, "ioc_remainder", remaining))
        else:
            raise AssertionError("a FOK that passed its trial run must fill completely")
        return events

    def match(self, cmd: PlaceOrder, stp: str, events: list[Event]) -> tuple[int, bool]:
        """Match ``cmd`` against the book, appending the events; returns (remaining, stopped by STP)."""
        remaining = cmd.qty
        while remaining > 0:
            candidates = [o for o in self.orders if crosses(o, cmd)]
            if not candidates:
                break
            best = min(candidates, key=priority)
            if best.client_id == cmd.client_id:
                if stp in ("cancel_oldest", "cancel_both"):
                    self.orders = [o for o in self.orders if o is not best]
                    events.append(
                        OrderCancelled(
                            self._next(),
                            self.symbol,
                            cmd.ts,
                            best.order_id,
                            best.client_id,
                            "self_trade",
                            best.remaining,
                            best.filled,
                        )
                    )
                if stp in ("cancel_newest", "cancel_both"):
                    return remaining, True
                continue
            fill = min(remaining, best.remaining)
            best.remaining -= fill
            remaining -= fill
            if best.remaining == 0:
                self.orders = [o for o in self.orders if o is not best]
            events.append(
                TradeExecuted(
                    self._next(),
                    self.symbol,
                    cmd.ts,
                    best.price,  # the resting order's price, whatever the taker's limit
                    fill,
                    cmd.side,
                    best.order_id,
                    best.client_id,
                    best.remaining,
                    best.filled,
                    cmd.order_id,
                    cmd.client_id,
                    remaining,
                    cmd.qty - remaining,
                )
            )
        if remaining > 0 and self.simulated is not None:
            fill = min(remaining, self.simulated(cmd))
            if fill > 0:
                remaining -= fill
                events.append(
                    TradeExecuted(
                        self._next(),
                        self.symbol,
                        cmd.ts,
                        cmd.price,
                        fill,
                        cmd.side,
                        "sim:" + cmd.order_id,
                        SIM_CLIENT,
                        0,
                        fill,
                        cmd.order_id,
                        cmd.client_id,
                        remaining,
                        cmd.qty - remaining,
                    )
                )
        return remaining, False

    def _cancelled(self, cmd: PlaceOrder, reason: str, remaining: int) -> OrderCancelled:
        """The taker's own cancellation: ``remaining`` lots of it never rest."""
        return OrderCancelled(
            self._next(),
            self.symbol,
            cmd.ts,
            cmd.order_id,
            cmd.client_id,
            reason,  # type: ignore[arg-type]
            remaining,
            cmd.qty - remaining,
        )


def invalid(cmd: PlaceOrder) -> str | None:
    """Why ``cmd`` is rejected, checked in this order; None when it is valid."""
    if cmd.side not in ("BUY", "SELL"):
        return "invalid_side"
    if cmd.price <= 0:
        return "invalid_price"
    if cmd.qty <= 0:
        return "invalid_qty"
    if cmd.tif not in ("GTC", "IOC", "FOK"):
        return "invalid_tif"
    if cmd.stp is not None and cmd.stp not in ("cancel_newest", "cancel_oldest", "cancel_both"):
        return "invalid_stp"
    return None


def changed(before: tuple[Level, ...], after: tuple[Level, ...], side: str) -> tuple[Level, ...]:
    """The levels whose visible (qty, count) differ, best first; one that left the view is (price, 0, 0)."""
    b = {p: (q, c) for p, q, c in before}
    a = {p: (q, c) for p, q, c in after}
    out = [(p, *a.get(p, (0, 0))) for p in set(a) | set(b) if a.get(p) != b.get(p)]
    out.sort(key=lambda level: -level[0] if side == "BUY" else level[0])
    return tuple(out)  # type: ignore[arg-type]
