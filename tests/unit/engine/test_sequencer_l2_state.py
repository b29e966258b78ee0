"""Sequencer, L2 view/delta, snapshot/restore, rebuild, state hash, factory."""

from __future__ import annotations

import pytest

from matching.engine import (
    BookEngine,
    CancelOrder,
    PlaceOrder,
    SimFillEngine,
    engine_from_snapshot,
    kind_from_env,
    make_engine,
)
from tests.unit.engine.helpers import cancel, place


def test_every_event_gets_the_next_seq(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 1, client="m")
    place(book, "s2", "SELL", 100, 1, client="m")
    r = place(book, "b1", "BUY", 100, 5, tif="IOC")
    assert [e.seq for e in r.events] == [3, 4, 5]
    assert book.last_seq == 5


def test_rejections_also_consume_a_seq(book: BookEngine) -> None:
    cancel(book, "nope")
    (e,) = place(book, "b1", "BUY", 100, 1).events
    assert e.seq == 2


def test_ignored_duplicate_consumes_no_seq(book: BookEngine) -> None:
    cmd = PlaceOrder("b1", "c1", "BUY", 100, 5, 1)
    book.apply(cmd)
    book.apply(cmd)
    assert book.last_seq == 1


def test_engine_can_start_at_a_given_seq() -> None:
    book = BookEngine("TULIP", last_seq=41)
    (e,) = place(book, "b1", "BUY", 100, 1).events
    assert e.seq == 42


def test_events_carry_the_command_ts_never_a_clock(book: BookEngine) -> None:
    (e,) = book.apply(PlaceOrder("b1", "c1", "BUY", 100, 1, ts=123456)).events
    assert e.ts == 123456


def test_l2_aggregates_qty_and_counts_orders(book: BookEngine) -> None:
    place(book, "b1", "BUY", 100, 2)
    place(book, "b2", "BUY", 100, 3)
    place(book, "b3", "BUY", 99, 1)
    place(book, "s1", "SELL", 101, 4)
    view = book.l2()
    assert view.bids == ((100, 5, 2), (99, 1, 1))
    assert view.asks == ((101, 4, 1),)


def test_l2_is_limited_to_depth(book: BookEngine) -> None:
    for i in range(8):
        place(book, f"b{i}", "BUY", 100 - i, 1)
    assert [p for p, _, _ in book.l2().bids] == [100, 99, 98, 97, 96]
    assert len(book.l2(2).bids) == 2


def test_delta_reports_the_changed_level(book: BookEngine) -> None:
    place(book, "b1", "BUY", 100, 2)
    d = place(book, "b2", "BUY", 100, 3).l2_delta
    assert d.bids == ((100, 5, 2),) and d.asks == ()


def test_delta_reports_a_consumed_level_with_zero_qty(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 2, client="m")
    place(book, "s2", "SELL", 101, 2, client="m")
    d = place(book, "b1", "BUY", 101, 3, tif="IOC").l2_delta
    assert d.asks == ((100, 0, 0), (101, 1, 1)) and d.bids == ()


def test_delta_reports_a_level_entering_the_view_when_one_above_goes() -> None:
    book = BookEngine("TULIP", depth=2)
    for i, p in enumerate((100, 99, 98)):
        place(book, f"b{i}", "BUY", p, 1)
    d = cancel(book, "b0").l2_delta
    assert d.bids == ((100, 0, 0), (98, 1, 1))


def test_delta_reports_a_level_pushed_out_of_the_view() -> None:
    book = BookEngine("TULIP", depth=2)
    place(book, "b1", "BUY", 100, 1)
    place(book, "b2", "BUY", 99, 1)
    d = place(book, "b3", "BUY", 101, 1).l2_delta
    assert d.bids == ((101, 1, 1), (99, 0, 0))


def test_delta_is_empty_when_change_is_outside_the_view() -> None:
    book = BookEngine("TULIP", depth=2)
    place(book, "b1", "BUY", 100, 1)
    place(book, "b2", "BUY", 99, 1)
    assert place(book, "b3", "BUY", 90, 1).l2_delta.bids == ()


def test_snapshot_restore_then_continue_equals_never_stopping() -> None:
    cmds = [
        PlaceOrder(f"o{i}", f"c{i % 3}", "BUY" if i % 2 else "SELL", 98 + i % 5, 1 + i % 4, i)
        for i in range(60)
    ]
    a = BookEngine("TULIP")
    b = BookEngine("TULIP")
    out_a = [a.apply(c) for c in cmds]
    out_b = [b.apply(c) for c in cmds[:30]]
    b = engine_from_snapshot(b.snapshot())  # type: ignore[assignment]
    out_b += [b.apply(c) for c in cmds[30:]]
    assert out_a == out_b
    assert a.state_hash() == b.state_hash()


def test_restore_rejects_a_snapshot_of_another_symbol() -> None:
    snap = BookEngine("A").snapshot()
    with pytest.raises(ValueError):
        BookEngine("B").restore(snap)


def test_rebuild_from_open_orders_hashes_equal_to_the_original(book: BookEngine) -> None:
    place(book, "s1", "SELL", 101, 5, client="m")
    place(book, "s2", "SELL", 101, 5, client="n")
    place(book, "b1", "BUY", 101, 7)
    place(book, "b2", "BUY", 99, 1)
    rebuilt = BookEngine("TULIP")
    rebuilt.restore_from_open_orders(book.open_orders(), book.last_seq)
    assert rebuilt.state_hash() == book.state_hash()
    assert rebuilt.l2() == book.l2()


def test_rebuild_refuses_a_crossed_book() -> None:
    from matching.engine import OpenOrder

    with pytest.raises(ValueError):
        BookEngine("T").restore_from_open_orders(
            [OpenOrder("a", "c", "BUY", 101, 1, 0), OpenOrder("b", "c", "SELL", 100, 1, 0)], 0
        )


def test_state_hash_is_deterministic_and_sensitive_to_priority() -> None:
    a, b = BookEngine("T"), BookEngine("T")
    place(a, "x", "BUY", 100, 1)
    place(a, "y", "BUY", 100, 1)
    place(b, "y", "BUY", 100, 1)
    place(b, "x", "BUY", 100, 1)
    assert a.state_hash() != b.state_hash()
    c = BookEngine("T")
    place(c, "x", "BUY", 100, 1)
    place(c, "y", "BUY", 100, 1)
    assert a.state_hash() == c.state_hash()


def test_make_engine_builds_either_kind() -> None:
    assert isinstance(make_engine("book", "T"), BookEngine)
    assert isinstance(make_engine("simfill", "T"), SimFillEngine)
    with pytest.raises(ValueError):
        make_engine("magic", "T")


def test_matcher_env_selects_the_engine_and_defaults_to_book() -> None:
    assert kind_from_env({}) == "book"
    assert kind_from_env({"MATCHER": "simfill"}) == "simfill"
    with pytest.raises(ValueError, match="MATCHER"):
        kind_from_env({"MATCHER": "fast"})


def test_cancel_command_is_applied_through_apply(book: BookEngine) -> None:
    place(book, "b1", "BUY", 100, 1)
    assert book.apply(CancelOrder("b1", "c1", 9)).events[0].ts == 9
