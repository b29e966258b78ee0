"""One adapter per engine: ``prepare(stream)`` (untimed: builds the engine's own inputs and a fresh
engine) returns a zero-argument ``run`` closure (timed) that processes every message and returns
``(traded_qty, fill_checksum, cancels)``.

``fill_checksum`` = sum of (message index + 1) * fill qty * fill price over all fills, so it pins which
message traded how much at which price; ``cancels`` counts user cancels that removed an open order
plus IOC remainders killed.  Peers without IOC get it emulated by cancelling the remainder right
after the add (counted the same way).  The optional ``lat`` list receives per-message nanoseconds.

What each row's timed loop pays for, per message (inputs are built untimed in ``prepare``): one
iteration of an interpreted loop, one call into the engine, and turning its output into the three
totals -- (a)/(a'-py) read each event's fields in that loop, (a') in ``driver.step`` compiled with
the engine, (b) inline, (c) in Python callbacks from the binding, (d)/(e) from the returned
trade objects.  Rows (a)-(a'-py) build every event and the L2 delta of every command.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from bench.engine import bare
from bench.engine.streams import Msg

Runner = Callable[[list[int] | None], tuple[int, int, int]]


def _engine_commands(stream: list[Msg]) -> list[Any]:
    from matching.engine import CancelOrder, PlaceOrder, Side

    # Every order gets its own client id: the peers have no self-trade prevention, so STP must not
    # fire here or the outcomes would differ.
    cmds: list[Any] = []
    for i, (op, oid, is_buy, price, qty, ioc) in enumerate(stream):
        sid = str(oid)
        if op:
            cmds.append(CancelOrder(sid, "u" + sid, i))
        else:
            side: Side = "BUY" if is_buy else "SELL"
            cmds.append(PlaceOrder(sid, "u" + sid, side, price, qty, i, "IOC" if ioc else "GTC"))
    return cmds


def prepare_engine(stream: list[Msg], kind: str = "book") -> Runner:
    """Rows (a) and (a'-py): the interpreted loop applies each command and reads its events."""
    from matching.engine import OrderCancelled, TradeExecuted, make_engine

    engine = make_engine(kind, "BENCH")
    cmds = _engine_commands(stream)
    apply = engine.apply

    def run(lat: list[int] | None = None) -> tuple[int, int, int]:
        volume = checksum = cancels = 0
        clock = time.perf_counter_ns
        t0 = 0
        for i, cmd in enumerate(cmds):
            if lat is not None:
                t0 = clock()
            for ev in apply(cmd).events:
                if type(ev) is TradeExecuted:
                    q = ev.qty
                    volume += q
                    checksum += (i + 1) * q * ev.price
                elif type(ev) is OrderCancelled:
                    cancels += 1
            if lat is not None:
                lat.append(clock() - t0)
        return volume, checksum, cancels

    return run


def load_compiled_driver() -> ModuleType:
    """``bench/engine/driver.py`` as compiled with the engine, or ImportError saying why not."""
    from matching.engine import COMPILED

    if not COMPILED:
        raise ImportError("the compiled engine is not in use (`make engine-compiled`)")
    here = os.path.dirname(os.path.abspath(__file__))
    paths = glob.glob(os.path.join(here, "_compiled", "driver.*.so"))
    if len(paths) != 1:
        raise ImportError("no compiled bench driver (`make engine-compiled` builds it)")
    spec = importlib.util.spec_from_file_location("bench.engine.driver", paths[0])
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from bench.engine.build_mypyc import driver_digest

    with open(os.path.join(here, "driver.py"), "rb") as fh:
        if getattr(mod, "BUILT_FROM", None) != driver_digest(fh.read()):
            raise ImportError("the compiled bench driver is stale (`make engine-compiled`)")
    return mod


def prepare_engine_step(stream: list[Msg], kind: str = "book") -> Runner:
    """Row (a'): the interpreted loop calls the compiled ``driver.step`` once per message."""
    from matching.engine import make_engine

    driver = load_compiled_driver()
    engine = make_engine(kind, "BENCH")
    cmds = _engine_commands(stream)
    step = driver.step

    def run(lat: list[int] | None = None) -> tuple[int, int, int]:
        tally = driver.Tally()
        clock = time.perf_counter_ns
        t0 = 0
        for i, cmd in enumerate(cmds):
            if lat is not None:
                t0 = clock()
            step(engine, cmd, i, tally)
            if lat is not None:
                lat.append(clock() - t0)
        result: tuple[int, int, int] = tally.result()
        return result

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
    "engine-mypyc": prepare_engine_step,
    "engine-mypyc-py": prepare_engine,
    "bare": prepare_bare,
    "liquibook": prepare_liquibook,
    "pyorderbook": prepare_pyorderbook,
    "lightmatchingengine": prepare_lme,
}
