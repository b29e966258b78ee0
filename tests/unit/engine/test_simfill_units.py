"""SimFill determinism and contract; unit conversion at the edge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from matching.engine import (
    SIM_CLIENT_ID,
    OrderOpened,
    PlaceOrder,
    SimFillEngine,
    TradeExecuted,
    from_lots,
    from_ticks,
    simulated_qty,
    to_lots,
    to_ticks,
)


def _orders(n: int) -> list[PlaceOrder]:
    return [
        PlaceOrder(f"o{i}", "c", "BUY" if i % 2 else "SELL", 100, 10, i, idempotency_key=f"k{i}")
        for i in range(n)
    ]


def test_simfill_is_deterministic_per_order() -> None:
    a, b = SimFillEngine("T"), SimFillEngine("T")
    assert [a.apply(c) for c in _orders(50)] == [b.apply(c) for c in _orders(50)]
    assert a.state_hash() == b.state_hash()


def test_simfill_seed_is_the_idempotency_key_else_order_id() -> None:
    c1 = PlaceOrder("o1", "c", "BUY", 100, 10, 1, idempotency_key="same")
    c2 = PlaceOrder("o2", "c", "BUY", 100, 10, 1, idempotency_key="same")
    assert simulated_qty(c1) == simulated_qty(c2)
    vals = {simulated_qty(PlaceOrder(f"o{i}", "c", "BUY", 100, 10, 1)) for i in range(200)}
    assert 0 in vals and 10 in vals and len(vals) > 3  # none, partial and full outcomes all occur


def test_simfill_trades_at_the_order_limit_against_a_synthetic_maker() -> None:
    eng = SimFillEngine("T")
    cmd = next(c for c in _orders(200) if simulated_qty(c) == c.qty)
    (t,) = eng.apply(cmd).events
    assert isinstance(t, TradeExecuted)
    assert (t.price, t.qty, t.maker_client_id, t.maker_order_id) == (
        100,
        10,
        SIM_CLIENT_ID,
        "sim:" + cmd.order_id,
    )
    assert (t.maker_remaining, t.maker_filled, t.taker_remaining) == (0, 10, 0)


def test_simfill_partial_rests_the_remainder() -> None:
    eng = SimFillEngine("T")
    cmd = next(c for c in _orders(200) if 0 < simulated_qty(c) < c.qty)
    t, o = eng.apply(cmd).events
    assert isinstance(t, TradeExecuted) and isinstance(o, OrderOpened)
    assert t.qty + o.remaining == cmd.qty


def test_simfill_real_resting_orders_fill_first() -> None:
    eng = SimFillEngine("T")
    eng.apply(PlaceOrder("s1", "m", "SELL", 100, 3, 0, post_only=True))
    cmd = next(c for c in _orders(200) if c.side == "BUY" and simulated_qty(c) == c.qty)
    first = eng.apply(cmd).events[0]
    assert isinstance(first, TradeExecuted) and first.maker_order_id == "s1"


def test_simfill_post_only_never_takes_simulated_liquidity() -> None:
    cmd = PlaceOrder("o1", "c", "BUY", 100, 10, 1, post_only=True)
    assert simulated_qty(cmd) == 0


@pytest.mark.parametrize(
    ("text", "ticks"), [("12.34", 1234), ("0.01", 1), ("100", 10000), (Decimal("1.50"), 150)]
)
def test_price_to_ticks(text, ticks) -> None:  # type: ignore[no-untyped-def]
    assert to_ticks(text) == ticks


@pytest.mark.parametrize("bad", ["12.345", "abc", "NaN", "Infinity"])
def test_off_tick_or_malformed_price_is_an_error(bad: str) -> None:
    with pytest.raises(ValueError):
        to_ticks(bad)


def test_ticks_and_lots_round_trip() -> None:
    assert from_ticks(1234) == "12.34" and from_ticks(1200) == "12.00"
    assert to_lots("10") == 10 and from_lots(10) == "10"
    with pytest.raises(ValueError):
        to_lots("1.5")
