"""A deliberately naive reference book: plain lists, full re-sorts, no cleverness.

Every rule is written the most obvious way so it can be trusted as the oracle for the engine:
the candidate makers are filtered and sorted from scratch on every order, and the L2 view and its
delta are recomputed from all orders before and after each command.
"""

from __future__ import annotations

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


@dataclass
class RefOrder:
    order_id: str
    client_id: str
    side: str
    price: int
    qty: int
    remaining: int
    arrival: int


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
        self.orders: list[RefOrder] = []  # every resting order, in arrival order
        self.known: set[str] = set()
        self.arrivals = 0
        self.simulated = simulated

    # ------------------------------------------------------------------ views
    def levels(self, side: str) -> list[tuple[int, int, int]]:
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
        out = []
        for side in ("BUY", "SELL"):
            mine = [o for o in self.orders if o.side == side]
            mine.sort(key=lambda o: (-o.price if side == "BUY" else o.price, o.arrival))
            out += [
                OpenOrder(o.order_id, o.client_id, side, o.price, o.qty, o.qty - o.remaining) for o in mine
            ]  # type: ignore[arg-type]
        return out

    # --------------------------------------------------------------- commands
    def apply(self, cmd: Command) -> tuple[list[Event], L2Delta]:
        before = self.l2()
        events = self.place(cmd) if isinstance(cmd, PlaceOrder) else self.cancel(cmd)
        after = self.l2()
        return events, L2Delta(_diff(before.bids, after.bids, True), _diff(before.asks, after.asks, False))

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def cancel(self, cmd: CancelOrder) -> list[Event]:
        found = [o for o in self.orders if o.order_id == cmd.order_id]
        if not found:
            return [
                CancelRejected(self._next(), self.symbol, cmd.ts, cmd.order_id, cmd.client_id, "not_open")
            ]
        o = found[0]
        if o.client_id != cmd.client_id:
            return [
                CancelRejected(self._next(), self.symbol, cmd.ts, cmd.order_id, cmd.client_id, "not_owner")
            ]
        self.orders.remove(o)
        return [
            OrderCancelled(
                self._next(),
                self.symbol,
                cmd.ts,
                o.order_id,
                o.client_id,
                "user",
                o.remaining,
                o.qty - o.remaining,
            )
        ]

    def place(self, cmd: PlaceOrder) -> list[Event]:
        if cmd.order_id in self.known:
            return []
        reason = None
        if cmd.side not in ("BUY", "SELL"):
            reason = "invalid_side"
        elif cmd.price <= 0:
            reason = "invalid_price"
        elif cmd.qty <= 0:
            reason = "invalid_qty"
        elif cmd.tif not in ("GTC", "IOC", "FOK"):
            reason = "invalid_tif"
        elif cmd.stp is not None and cmd.stp not in ("cancel_newest", "cancel_oldest", "cancel_both"):
            reason = "invalid_stp"
        if reason:
            return [OrderRejected(self._next(), self.symbol, cmd.ts, cmd.order_id, cmd.client_id, reason)]  # type: ignore[arg-type]
        self.known.add(cmd.order_id)
        stp = cmd.stp or self.stp_default
        buy = cmd.side == "BUY"
        S, ts, oid, cid, qty = self.symbol, cmd.ts, cmd.order_id, cmd.client_id, cmd.qty

        def crosses(o: RefOrder) -> bool:
            return o.side != cmd.side and (o.price <= cmd.price if buy else o.price >= cmd.price)

        makers = sorted(
            [o for o in self.orders if crosses(o)], key=lambda o: (o.price if buy else -o.price, o.arrival)
        )
        events: list[Event] = []
        if makers and cmd.post_only:
            return [OrderCancelled(self._next(), S, ts, oid, cid, "post_only", qty, 0)]
        sim = self.simulated(cmd) if self.simulated else 0
        if cmd.tif == "FOK":
            total = 0
            blocked = False  # matching would stop at a self order, before any simulated liquidity
            for m in makers:
                if m.client_id == cid:
                    if stp == "cancel_oldest":
                        continue
                    blocked = True
                    break
                total += m.remaining
            if total + (0 if blocked else sim) < qty:
                return [OrderCancelled(self._next(), S, ts, oid, cid, "fok_unfilled", qty, 0)]
        remaining = qty
        stopped = False
        for m in makers:
            if remaining == 0:
                break
            if m.client_id == cid:
                if stp == "cancel_newest":
                    stopped = True
                    break
                self.orders.remove(m)
                events.append(
                    OrderCancelled(
                        self._next(),
                        S,
                        ts,
                        m.order_id,
                        m.client_id,
                        "self_trade",
                        m.remaining,
                        m.qty - m.remaining,
                    )
                )
                if stp == "cancel_both":
                    stopped = True
                    break
                continue
            fill = min(remaining, m.remaining)
            m.remaining -= fill
            remaining -= fill
            if m.remaining == 0:
                self.orders.remove(m)
            events.append(
                TradeExecuted(
                    self._next(),
                    S,
                    ts,
                    m.price,
                    fill,
                    cmd.side,
                    m.order_id,
                    m.client_id,
                    m.remaining,
                    m.qty - m.remaining,
                    oid,
                    cid,
                    remaining,
                    qty - remaining,
                )
            )
        if remaining and not stopped and sim:
            fill = min(remaining, sim)
            remaining -= fill
            events.append(
                TradeExecuted(
                    self._next(),
                    S,
                    ts,
                    cmd.price,
                    fill,
                    cmd.side,
                    "sim:" + oid,
                    "__simfill__",
                    0,
                    fill,
                    oid,
                    cid,
                    remaining,
                    qty - remaining,
                )
            )
        if remaining:
            if stopped:
                events.append(
                    OrderCancelled(self._next(), S, ts, oid, cid, "self_trade", remaining, qty - remaining)
                )
            elif cmd.tif == "GTC":
                self.arrivals += 1
                self.orders.append(RefOrder(oid, cid, cmd.side, cmd.price, qty, remaining, self.arrivals))
                events.append(
                    OrderOpened(
                        self._next(), S, ts, oid, cid, cmd.side, cmd.price, qty, remaining, qty - remaining
                    )
                )
            else:
                assert cmd.tif == "IOC"
                events.append(
                    OrderCancelled(self._next(), S, ts, oid, cid, "ioc_remainder", remaining, qty - remaining)
                )
        return events


def _diff(before: tuple[tuple[int, int, int], ...], after: tuple[tuple[int, int, int], ...], bid: bool):
    b = {p: (q, c) for p, q, c in before}
    a = {p: (q, c) for p, q, c in after}
    out = []
    for p in set(a) | set(b):
        if a.get(p) != b.get(p):
            q, c = a.get(p, (0, 0))
            out.append((p, q, c))
    out.sort(key=lambda t: -t[0] if bid else t[0])
    return tuple(out)
