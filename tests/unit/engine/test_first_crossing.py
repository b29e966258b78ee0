"""BookEngine.first_crossing: the resting order a refused or stopped taker was judged against
(matching/services.py, ShardMatcher._witnesses), read without changing the book."""

from __future__ import annotations

from matching.engine import BookEngine
from tests.unit.engine.helpers import cancel, place


def test_the_first_crossing_order_in_price_then_time_priority(book: BookEngine) -> None:
    place(book, "s-far", "SELL", 103, 1, client="m")
    place(book, "s-old", "SELL", 101, 1, client="m")
    place(book, "s-new", "SELL", 101, 1, client="n")
    place(book, "b1", "BUY", 99, 1, client="m")
    before = book.state_hash()
    assert book.first_crossing("BUY", 102) == "s-old"
    assert book.first_crossing("BUY", 100) is None  # nothing at or under 100
    assert book.first_crossing("SELL", 99) == "b1" and book.first_crossing("SELL", 100) is None
    assert book.state_hash() == before  # read-only


def test_of_one_client_only_and_within_the_limit(book: BookEngine) -> None:
    place(book, "s1", "SELL", 101, 1, client="m")
    place(book, "s2", "SELL", 101, 1, client="me")
    place(book, "s3", "SELL", 104, 1, client="me")
    assert book.first_crossing("BUY", 102, "me") == "s2"
    assert book.first_crossing("BUY", 105, "me") == "s2"
    assert book.first_crossing("BUY", 102, "nobody") is None
    cancel(book, "s2", client="me")  # a cancelled order is no longer met
    assert book.first_crossing("BUY", 102, "me") is None
    assert book.first_crossing("BUY", 105, "me") == "s3"
