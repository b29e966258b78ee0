"""One adapter per engine: ``prepare(stream)`` (untimed: builds the engine's own inputs and a fresh
engine) returns a zero-argument ``run`` closure (timed) that processes every message and returns
``(traded_qty, fill_checksum, cancels)``.

``fill_checksum`` = sum of (message index + 1) * fill qty * fill price over all fills, so it pins which
message traded how much at which price; ``cancels`` counts user cancels that removed an open order
plus IOC remainders killed.  Peers without IOC get it emulated by cancelling the remainder right
after the add (counted the same way).  The optional ``lat`` list receives per-message nanoseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.engine import bare
from bench.engine.streams import Msg

Runner = Callable[[list[int] | None], tuple[int, int, int]]


def prepare_engine(stream: list[Msg], kind: str = "book") -> Runner:
    from matching.engine import CancelOrder, OrderCancelled, PlaceOrder, TradeExecuted, make_engine

    engine = make_engine(kind, "BENCH")
    # Every order gets its own client id: the peers have no self-trade prevention, so STP must not
    # fire here or the outcomes would differ.
    cmds: list[Any] = []
    for i, (op, oid, is_buy, price, qty, ioc) in enumerate(stream):
        sid = str(oid)
        if op:
            cmds.append(CancelOrder(sid, "u" + sid, i))
        else:
            side = "BUY" if is_buy else "SELL"
            cmds.append(PlaceOrder(sid, "u" + sid, side, price, qty, i, "IOC" if ioc else "GTC"))
    apply = engine.apply

    def run(lat: list[int] | None = None) -> tuple[int, int, int]:
        volume = checksum = cancels = 0
        clock = time.perf_counter_ns
        t0 = 0
        for i, cmd in enumerate(cmds):
            if lat is not None:
                t0 = clock()
            res = apply(cmd)
            for ev in res.events:
                if type(ev) is TradeExecuted:
                    volume += ev.qty
                    checksum += (i + 1) * ev.qty * ev.price
                elif type(ev) is OrderCancelled:
                    cancels += 1
            if lat is not None:
                lat.append(clock() - t0)
        return volume, checksum, cancels

    return run


def prepare_bare(stream: list[Msg]) -> Runner:
    def run(lat: list[int] | None = None) -> tuple[int, int, int]:
        return bare.run(stream, lat)

    return run


def prepare_liquibook(stream: list[Msg]) -> Runner:
    import liquibook as lb

    state = {"volume": 0, "checksum": 0, "cancels": 0, "i": 0}

    class Listener(lb.OrderListener):  # type: ignore[misc]
        # Every pure-virtual callback must exist, or the SWIG director raises.
        def on_accept(self, order: Any) -> None:
            pass

        def on_reject(self, order: Any, reason: Any) -> None:
            raise RuntimeError(f"liquibook rejected an order: {reason}")

        def on_fill(self, passive: Any, aggressive: Any, qty: int, price: int) -> None:
            state["volume"] += qty
            state["checksum"] += (state["i"] + 1) * qty * price

        def on_cancel(self, order: Any) -> None:
            state["cancels"] += 1

        def on_cancel_reject(self, order: Any, reason: Any) -> None:
            pass

        def on_replace(self, order: Any, a: Any, b: Any) -> None:
            pass

        def on_replace_reject(self, order: Any, reason: Any) -> None:
            pass

    book = lb.liquibook_book_OrderBook()
    listener = Listener()
    book.set_order_listener(listener)
    orders: dict[int, Any] = {}
    inputs: list[tuple[int, Any, int]] = []
    ioc_flag = lb.oc_immediate_or_cancel
    for op, oid, is_buy, price, qty, ioc in stream:
        if op:
            inputs.append((1, oid, 0))
        else:
            o = lb.SimpleOrder(is_buy, price, qty)
            orders[oid] = o
            inputs.append((0, o, ioc_flag if ioc else 0))

    def run(lat: list[int] | None = None) -> tuple[int, int, int]:
        add, cancel = book.add, book.cancel
        clock = time.perf_counter_ns
        t0 = 0
        for i, (op, x, cond) in enumerate(inputs):
            if lat is not None:
                t0 = clock()
            state["i"] = i
            if op:
                o = orders.get(x)
                # liquibook reports cancel of a finished order via on_cancel_reject (not counted).
                if o is not None:
                    cancel(o)
            else:
                add(x, cond)
            if lat is not None:
                lat.append(clock() - t0)
        return state["volume"], state["checksum"], state["cancels"]

    run.keepalive = (book, listener, orders)  # type: ignore[attr-defined]
    return run


def prepare_pyorderbook(stream: list[Msg]) -> Runner:
    import logging

    from pyorderbook import Book
    from pyorderbook.order import Order, Side

    logging.getLogger("pyorderbook").setLevel(logging.WARNING)
    logging.getLogger("pyorderbook.book").setLevel(logging.WARNING)
    book = Book()
    orders: dict[int, Any] = {}
    inputs: list[tuple[int, Any, bool]] = []
    for op, oid, is_buy, price, qty, ioc in stream:
        if op:
            inputs.append((1, oid, False))
        else:
            # Prices as integral ticks: pyorderbook stores Decimal(str(price)) either way.
            o = Order(Side.BID if is_buy else Side.ASK, "BENCH", price, qty)
            orders[oid] = o
            inputs.append((0, o, ioc))

    def run(lat: list[int] | None = None) -> tuple[int, int, int]:
        volume = checksum = cancels = 0
        order_map = book.order_map
        clock = time.perf_counter_ns
        t0 = 0
        for i, (op, x, ioc) in enumerate(inputs):
            if lat is not None:
                t0 = clock()
            if op:
                o = orders.get(x)
                if o is not None and o.id in order_map:
                    book.cancel(o)
                    cancels += 1
            else:
                blotter = book.match(x)
                for t in blotter.trades:
                    volume += t.fill_quantity
                    checksum += (i + 1) * t.fill_quantity * int(t.fill_price)
                if ioc and x.quantity and x.id in order_map:
                    book.cancel(x)  # IOC emulated: kill the rested remainder at once
                    cancels += 1
            if lat is not None:
                lat.append(clock() - t0)
        return volume, checksum, cancels

    return run


def prepare_lme(stream: list[Msg]) -> Runner:
    from lightmatchingengine.lightmatchingengine import LightMatchingEngine, Side

    lme = LightMatchingEngine()
    buy, sell = Side.BUY, Side.SELL

    def run(lat: list[int] | None = None) -> tuple[int, int, int]:
        volume = checksum = cancels = 0
        ids: dict[int, Any] = {}  # our oid -> lme's order object
        add, cancel = lme.add_order, lme.cancel_order
        clock = time.perf_counter_ns
        t0 = 0
        for i, (op, oid, is_buy, price, qty, ioc) in enumerate(stream):
            if lat is not None:
                t0 = clock()
            if op:
                o = ids.pop(oid, None)
                # lme keeps filled makers in its id map (and then asserts on cancel): skip them.
                if o is not None and o.leaves_qty and cancel(o.order_id, "BENCH") is not None:
                    cancels += 1
            else:
                order, trades = add("BENCH", price, qty, buy if is_buy else sell)
                for t in trades:
                    if t.order_id == order.order_id:  # the aggressive leg; passive legs repeat it
                        volume += t.trade_qty
                        checksum += (i + 1) * t.trade_qty * t.trade_price
                if order.leaves_qty:
                    if ioc:
                        cancel(order.order_id, "BENCH")  # IOC emulated
                        cancels += 1
                    else:
                        ids[oid] = order
            if lat is not None:
                lat.append(clock() - t0)
        return volume, checksum, cancels

    return run


PREPARE: dict[str, Callable[[list[Msg]], Runner]] = {
    "engine": prepare_engine,
    "bare": prepare_bare,
    "liquibook": prepare_liquibook,
    "pyorderbook": prepare_pyorderbook,
    "lightmatchingengine": prepare_lme,
}
