"""A deterministic order flow through a real stack whose matcher is killed mid-run, compared with
one uninterrupted in-process engine run of the same commands (docs/rules.md)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matching.engine import OpenOrder, PlaceOrder, make_engine
from tests.support.ledger import assert_ledger, orders, shard_last_seq, wait_until_matched
from tests.support.stack import StackHandle, start_stack
from tests.support.trading import Trader

SYMBOL = "CRASH"


def order_flow(count: int, seed: int) -> list[tuple[int, str, int, int, str]]:
    """(trader index, side, qty, price ticks, tif): a book that both grows and crosses."""
    rng = random.Random(seed)
    flow = []
    for _ in range(count):
        side = rng.choice(("BUY", "SELL"))
        crossing = rng.random() < 0.35
        offset = rng.randint(0, 5)
        price = 10_000 + (offset if side == "BUY" else -offset) if crossing else (
            10_000 - 1 - offset if side == "BUY" else 10_000 + 1 + offset)
        tif = "IOC" if crossing and rng.random() < 0.5 else "GTC"
        flow.append((rng.randrange(4), side, rng.randint(1, 5), price, tif))
    return flow


def run_with_crash(tmp_path: Path, count: int, seed: int, crash: str,
                   kill_during: Callable[[StackHandle, int], None] | None = None) -> None:
    component = {"matcher-1": {"TULIP_MATCHER_CRASH": crash}} if crash else {}
    handle = start_stack(tmp_path / "stack", symbols=SYMBOL, events_visibility_timeout_s=3,
                         component_env=component,
                         extra_env={"SWEEPER_INTERVAL_S": "2", "SWEEPER_MIN_AGE_S": "2"})
    try:
        traders = [Trader(handle, f"t{i}") for i in range(4)]
        placed: list[tuple[dict[str, Any], tuple[int, str, int, int, str]]] = []
        for index, spec in enumerate(order_flow(count, seed)):
            trader, side, qty, price, tif = spec
            placed.append((traders[trader].place(SYMBOL, side, qty, f"{price / 100:.2f}", tif),
                           spec))
            if kill_during:
                kill_during(handle, index)
        matcher = handle.stack.children["matcher-1"].process
        if crash:
            deadline = time.monotonic() + 60
            while matcher.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert matcher.poll() == 137, "the injected crash did not happen"
        if matcher.poll() is not None:
            handle.stack.options.component_env.pop("matcher-1", None)
            handle.stack.start_matcher()
        wait_until_matched(handle, [order["orderId"] for order, _ in placed],
                           timeout=max(180.0, count * 0.5))
        assert_ledger(handle, SYMBOL)
        assert_book_equals_reference(handle, traders, placed)
    finally:
        handle.stop()


def assert_book_equals_reference(handle: StackHandle, traders: list[Trader],
                                 placed: list[tuple[dict[str, Any], tuple[int, str, int, int, str]]],
                                 symbol: str = SYMBOL) -> None:
    """The shard's book of record (DynamoDB's open orders at lastSeq) is the book one
    uninterrupted engine reaches on the same commands in submission order (= the symbol's FIFO
    order: the orders were submitted one after another)."""
    reference = make_engine("book", symbol)
    mine = [(order, spec) for order, spec in placed if order["symbol"] == symbol]
    for index, (order, (trader, side, qty, price, tif)) in enumerate(mine):
        reference.apply(PlaceOrder(order["orderId"], traders[trader].client_id,
                                   "BUY" if side == "BUY" else "SELL", price, qty, index,
                                   "IOC" if tif == "IOC" else "GTC"))
    stored = sorted((o for o in orders(handle, symbol).values() if "openSort" in o),
                    key=lambda o: o["openSort"]["S"])
    rebuilt = make_engine("book", symbol)
    rebuilt.restore_from_open_orders(
        [OpenOrder(o["orderId"]["S"], o["clientId"]["S"],
                   "BUY" if o["side"]["S"] == "BUY" else "SELL", int(o["priceTicks"]["N"]),
                   int(o["qty"]["N"]), int(o["filledQty"]["N"])) for o in stored],
        shard_last_seq(handle, symbol))
    assert rebuilt.last_seq == reference.last_seq, "a different number of events was committed"
    assert rebuilt.open_orders() == reference.open_orders()
    assert rebuilt.state_hash() == reference.state_hash()
