"""The book's internal layout keeps its promises at its edges (one behaviour per test).

The price ladder's window growth and far-price dict, the consumed-prefix cut of a level's order
list and the visibility of levels in the L2 delta are invisible in normal use; these tests drive
each edge and let ``check_invariants`` audit the whole book after every step.
"""

from __future__ import annotations

from matching.engine import BookEngine, TradeExecuted
from tests.unit.engine.helpers import cancel, place

FAR = 1 << 17  # more ticks than one ladder window may span


def test_prices_further_apart_than_one_ladder_window_rest_match_and_cancel(book: BookEngine) -> None:
    for i, price in enumerate((100, 100 + FAR, 100 + 2 * FAR, 7, 100 + FAR + 1)):
        place(book, f"s{i}", "SELL", price, 1, client="m")
        book.check_invariants()
    assert [p for p, _, _ in book.l2(10).asks] == [7, 100, 100 + FAR, 100 + FAR + 1, 100 + 2 * FAR]
    r = place(book, "b1", "BUY", 100 + FAR, 3)
    assert [e.price for e in r.events if isinstance(e, TradeExecuted)] == [7, 100, 100 + FAR]
    book.check_invariants()
    cancel(book, "s2", client="m")
    book.check_invariants()
    assert book.l2().asks == ((100 + FAR + 1, 1, 1),)
    place(book, "s9", "SELL", 100 + 2 * FAR, 2, client="m")  # a far price again, after its level went
    book.check_invariants()
    assert book.l2().asks == ((100 + FAR + 1, 1, 1), (100 + 2 * FAR, 2, 1))


def test_ladder_window_grows_downwards_and_upwards(book: BookEngine) -> None:
    prices = [5000, 4990, 5100, 1000, 9000, 5001]
    for i, price in enumerate(prices):
        place(book, f"b{i}", "BUY", price, i + 1)
        book.check_invariants()
    assert [p for p, _, _ in book.l2(10).bids] == sorted(prices, reverse=True)
    place(book, "b9", "BUY", 4990, 4)  # joins the level created before the window grew
    assert (4990, 6, 2) in book.l2(10).bids


def test_a_long_lived_level_cuts_its_consumed_prefix_and_keeps_fifo(book: BookEngine) -> None:
    # Orders keep arriving at and leaving one price: the list must not grow without bound.
    for i in range(1000):
        place(book, f"s{i}", "SELL", 100, 1, client="m")
        if i >= 3:
            (t,) = place(book, f"b{i}", "BUY", 100, 1).events
            assert isinstance(t, TradeExecuted) and t.maker_order_id == f"s{i - 3}"
    book.check_invariants()
    assert book.l2().asks == ((100, 3, 3),)
    assert [o.order_id for o in book.open_orders()] == ["s997", "s998", "s999"]


def test_a_level_below_a_full_view_changes_nothing_visible(book: BookEngine) -> None:
    for i in range(5):
        place(book, f"b{i}", "BUY", 100 - i, 1)
    assert place(book, "b5", "BUY", 90, 1).l2_delta.bids == ()  # a new level below the view
    assert place(book, "b6", "BUY", 90, 1).l2_delta.bids == ()  # an existing one below the view
    assert cancel(book, "b6").l2_delta.bids == ()
    assert cancel(book, "b5").l2_delta.bids == ()  # a level below the view goes
    book.check_invariants()


def test_a_sweep_through_more_levels_than_the_view_reports_each_visible_change() -> None:
    book = BookEngine("TULIP", depth=3)
    for i in range(6):
        place(book, f"s{i}", "SELL", 100 + i, 1, client="m")
    d = place(book, "b1", "BUY", 104, 4).l2_delta  # takes 100..103 (4 levels > depth 3)
    assert d.asks == ((100, 0, 0), (101, 0, 0), (102, 0, 0), (104, 1, 1), (105, 1, 1))
    book.check_invariants()


def test_a_partial_sweep_reports_the_new_best_and_the_entering_level() -> None:
    book = BookEngine("TULIP", depth=3)
    for i in range(5):
        place(book, f"s{i}", "SELL", 100 + i, 2, client="m")
    d = place(book, "b1", "BUY", 101, 3).l2_delta  # takes 100 (2) and 1 of 101
    assert d.asks == ((100, 0, 0), (101, 1, 1), (103, 2, 1))
    book.check_invariants()
