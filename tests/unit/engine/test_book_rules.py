"""One behaviour per test for every matching rule (docs/rules.md, "Matching rules")."""

from __future__ import annotations

import dataclasses

import pytest

from matching.engine import (
    BookEngine,
    CancelRejected,
    OrderCancelled,
    OrderOpened,
    OrderRejected,
    PlaceOrder,
    TradeExecuted,
)
from tests.unit.engine.helpers import cancel, kinds, place


def test_gtc_without_counterparty_rests_with_its_remainder(book: BookEngine) -> None:
    r = place(book, "b1", "BUY", 100, 5)
    (ev,) = r.events
    assert isinstance(ev, OrderOpened)
    assert (ev.remaining, ev.filled, ev.price, ev.side) == (5, 0, 100, "BUY")
    assert book.l2().bids == ((100, 5, 1),)


def test_buy_crosses_when_price_at_or_above_best_ask(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="m")
    assert kinds(place(book, "b1", "BUY", 100, 1)) == ["TradeExecuted"]


def test_buy_below_best_ask_does_not_cross(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="m")
    assert kinds(place(book, "b1", "BUY", 99, 1)) == ["OrderOpened"]


def test_sell_crosses_when_price_at_or_below_best_bid(book: BookEngine) -> None:
    place(book, "b1", "BUY", 100, 5, client="m")
    assert kinds(place(book, "s1", "SELL", 95, 1)) == ["TradeExecuted"]


def test_trade_happens_at_the_resting_orders_price(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="m")
    (t,) = place(book, "b1", "BUY", 105, 5).events
    assert isinstance(t, TradeExecuted) and t.price == 100


def test_better_price_matches_first(book: BookEngine) -> None:
    place(book, "s1", "SELL", 101, 1, client="m")
    place(book, "s2", "SELL", 100, 1, client="m")
    ev = place(book, "b1", "BUY", 101, 2).events
    assert [e.maker_order_id for e in ev if isinstance(e, TradeExecuted)] == ["s2", "s1"]


def test_same_price_matches_in_arrival_order(book: BookEngine) -> None:
    for oid in ("s1", "s2", "s3"):
        place(book, oid, "SELL", 100, 1, client="m")
    ev = place(book, "b1", "BUY", 100, 3).events
    assert [e.maker_order_id for e in ev if isinstance(e, TradeExecuted)] == ["s1", "s2", "s3"]


def test_partial_fill_of_the_maker_keeps_its_priority_and_remainder(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="m")
    place(book, "s2", "SELL", 100, 5, client="m")
    (t,) = place(book, "b1", "BUY", 100, 2).events
    assert isinstance(t, TradeExecuted)
    assert (t.maker_remaining, t.maker_filled, t.taker_remaining, t.taker_filled) == (3, 2, 0, 2)
    (t2,) = place(book, "b2", "BUY", 100, 1).events
    assert isinstance(t2, TradeExecuted) and t2.maker_order_id == "s1"


def test_partially_filled_taker_rests_its_remainder(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="m")
    _t, o = place(book, "b1", "BUY", 100, 5).events
    assert isinstance(o, OrderOpened) and (o.remaining, o.filled) == (3, 2)
    assert book.l2().bids == ((100, 3, 1),) and book.l2().asks == ()


def test_trade_event_carries_both_legs(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="maker")
    (t,) = place(book, "b1", "BUY", 100, 5, client="taker").events
    assert isinstance(t, TradeExecuted)
    assert (t.maker_order_id, t.maker_client_id, t.taker_order_id, t.taker_client_id) == (
        "s1",
        "maker",
        "b1",
        "taker",
    )
    assert (t.taker_side, t.qty, t.symbol) == ("BUY", 5, "TULIP")


def test_ioc_remainder_is_cancelled(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="m")
    _t, c = place(book, "b1", "BUY", 100, 5, tif="IOC").events
    assert isinstance(c, OrderCancelled) and (c.reason, c.remaining, c.filled) == ("ioc_remainder", 3, 2)
    assert book.l2().bids == ()


def test_fok_fills_completely_when_liquidity_suffices(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="m")
    place(book, "s2", "SELL", 101, 3, client="m")
    assert kinds(place(book, "b1", "BUY", 101, 5, tif="FOK")) == ["TradeExecuted", "TradeExecuted"]


def test_fok_is_refused_before_any_fill_when_short(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="m")
    before = book.state_hash()
    (c,) = place(book, "b1", "BUY", 100, 5, tif="FOK").events
    assert isinstance(c, OrderCancelled) and (c.reason, c.remaining, c.filled) == ("fok_unfilled", 5, 0)
    assert book.l2().asks == ((100, 2, 1),)
    assert book.state_hash() != before  # only seq moved
    assert book.open_orders()[0].filled == 0


def test_fok_does_not_count_liquidity_beyond_its_limit(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="m")
    place(book, "s2", "SELL", 102, 5, client="m")
    assert kinds(place(book, "b1", "BUY", 101, 5, tif="FOK")) == ["OrderCancelled"]


def test_post_only_that_would_cross_is_cancelled(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="m")
    (c,) = place(book, "b1", "BUY", 100, 1, post_only=True).events
    assert isinstance(c, OrderCancelled) and c.reason == "post_only"
    assert book.l2().asks == ((100, 2, 1),) and book.l2().bids == ()


def test_post_only_that_does_not_cross_rests(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="m")
    assert kinds(place(book, "b1", "BUY", 99, 1, post_only=True)) == ["OrderOpened"]


def test_self_trade_default_cancels_the_newest(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="me")
    (c,) = place(book, "b1", "BUY", 100, 1, client="me").events
    assert isinstance(c, OrderCancelled) and (c.order_id, c.reason) == ("b1", "self_trade")
    assert book.l2().asks == ((100, 2, 1),)


def test_self_trade_newest_keeps_fills_made_before_the_self_order(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 1, client="other")
    place(book, "s2", "SELL", 100, 1, client="me")
    t, c = place(book, "b1", "BUY", 100, 3, client="me").events
    assert isinstance(t, TradeExecuted) and t.maker_order_id == "s1"
    assert isinstance(c, OrderCancelled) and (c.order_id, c.remaining, c.filled) == ("b1", 2, 1)


def test_self_trade_cancel_oldest_cancels_resting_and_continues(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 1, client="me")
    place(book, "s2", "SELL", 100, 1, client="other")
    c, t = place(book, "b1", "BUY", 100, 1, client="me", stp="cancel_oldest").events
    assert isinstance(c, OrderCancelled) and (c.order_id, c.reason) == ("s1", "self_trade")
    assert isinstance(t, TradeExecuted) and t.maker_order_id == "s2"


def test_self_trade_cancel_both_cancels_both_orders(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 1, client="me")
    c1, c2 = place(book, "b1", "BUY", 100, 1, client="me", stp="cancel_both").events
    assert isinstance(c1, OrderCancelled) and isinstance(c2, OrderCancelled)
    assert (c1.order_id, c2.order_id) == ("s1", "b1")
    assert book.open_orders() == []


def test_engine_default_stp_mode_is_configurable() -> None:
    book = BookEngine("TULIP", stp_default="cancel_oldest")
    place(book, "s1", "SELL", 100, 1, client="me")
    assert kinds(place(book, "b1", "BUY", 100, 1, client="me")) == ["OrderCancelled", "OrderOpened"]


def test_fok_counts_no_liquidity_behind_a_self_order_under_cancel_newest(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 1, client="me")
    place(book, "s2", "SELL", 100, 5, client="other")
    assert kinds(place(book, "b1", "BUY", 100, 2, client="me", tif="FOK")) == ["OrderCancelled"]
    assert len(book.open_orders()) == 2


def test_repeated_place_with_known_order_id_is_ignored(book: BookEngine) -> None:
    cmd = PlaceOrder("b1", "c1", "BUY", 100, 5, 1)
    book.apply(cmd)
    seq, h = book.last_seq, book.state_hash()
    assert book.apply(cmd).events == ()
    assert book.apply(dataclasses.replace(cmd, price=200)).events == ()
    assert (book.last_seq, book.state_hash()) == (seq, h)


def test_repeated_place_of_a_finished_order_is_ignored(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="m")
    cmd = PlaceOrder("b1", "c1", "BUY", 100, 5, 1)
    assert len(book.apply(cmd).events) == 1
    place(book, "s2", "SELL", 100, 5, client="m")
    assert book.apply(cmd).events == ()
    assert book.l2().asks == ((100, 5, 1),)


def test_cancel_removes_the_order_and_reports_its_remainder(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="m")
    place(book, "b1", "BUY", 100, 2)
    (c,) = cancel(book, "s1", client="m").events
    assert isinstance(c, OrderCancelled) and (c.reason, c.remaining, c.filled) == ("user", 3, 2)
    assert book.l2().asks == ()


def test_cancel_of_unknown_order_is_rejected(book: BookEngine) -> None:
    (r,) = cancel(book, "nope").events
    assert isinstance(r, CancelRejected) and r.reason == "not_open"


def test_cancel_of_filled_order_is_rejected(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="m")
    place(book, "b1", "BUY", 100, 5)
    (r,) = cancel(book, "s1", client="m").events
    assert isinstance(r, CancelRejected) and r.reason == "not_open"


def test_cancel_twice_rejects_the_second(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5)
    cancel(book, "s1")
    (r,) = cancel(book, "s1").events
    assert isinstance(r, CancelRejected)


def test_cancel_by_another_client_is_rejected(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="owner")
    (r,) = cancel(book, "s1", client="thief").events
    assert isinstance(r, CancelRejected) and r.reason == "not_owner"
    assert book.l2().asks == ((100, 5, 1),)


def test_cancelled_order_is_skipped_by_matching(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 1, client="m")
    place(book, "s2", "SELL", 100, 1, client="m")
    cancel(book, "s1", client="m")
    (t,) = place(book, "b1", "BUY", 100, 1).events
    assert isinstance(t, TradeExecuted) and t.maker_order_id == "s2"


def test_many_cancels_in_one_level_are_compacted(book: BookEngine) -> None:
    for i in range(200):
        place(book, f"s{i}", "SELL", 100, 1, client="m")
    for i in range(199):
        cancel(book, f"s{i}", client="m")
    book.check_invariants()
    assert book.l2().asks == ((100, 1, 1),)


@pytest.mark.parametrize(
    ("side", "price", "qty", "tif", "stp", "reason"),
    [
        ("HOLD", 100, 1, "GTC", None, "invalid_side"),
        ("BUY", 0, 1, "GTC", None, "invalid_price"),
        ("BUY", 100, 0, "GTC", None, "invalid_qty"),
        ("BUY", 100, -1, "GTC", None, "invalid_qty"),
        ("BUY", 100, 1, "DAY", None, "invalid_tif"),
        ("BUY", 100, 1, "GTC", "cancel_all", "invalid_stp"),
    ],
)
def test_invalid_order_is_rejected(book: BookEngine, side, price, qty, tif, stp, reason) -> None:  # type: ignore[no-untyped-def]
    (r,) = book.apply(PlaceOrder("x", "c1", side, price, qty, 1, tif, False, stp)).events
    assert isinstance(r, OrderRejected) and r.reason == reason
    assert book.open_orders() == []


def test_unknown_command_type_raises(book: BookEngine) -> None:
    with pytest.raises(TypeError):
        book.apply("cancel everything")  # type: ignore[arg-type]


def test_events_are_frozen_slotted_dataclasses(book: BookEngine) -> None:
    (ev,) = place(book, "b1", "BUY", 100, 5).events
    assert type(ev) is OrderOpened and not hasattr(ev, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.qty = 1  # type: ignore[misc]
    assert ev == OrderOpened(ev.seq, "TULIP", ev.ts, "b1", "c1", "BUY", 100, 5, 5, 0)
    assert hash(ev) == hash(dataclasses.replace(ev))
