"""The matcher's read of the orders it is about to match (MatcherStorage.orders) returns every fact
matching needs, from a projected BatchGetItem: repeated ids once, unknown ids absent, and nothing
outside the projection read."""

from __future__ import annotations

from matching.storage import MatcherStorage
from tests.integration.ops.ledger_plant import Planter, new_symbol
from tulip.config import load_config


def test_match_read_returns_the_matching_facts_only(stack):
    planter = Planter(stack)
    symbol = new_symbol()  # no matcher serves it: the planted items stay as planted
    accepted = planter.order(symbol, "BUY", 7, "ACCEPTED", price_ticks=12_345, client="client-z")
    resting = planter.order(symbol, "SELL", 3, "PARTIALLY_FILLED", filled=1, price_ticks=9_000)

    found = MatcherStorage(load_config(stack.env)).orders(
        [accepted, resting, accepted, "no-such-order"])

    assert set(found) == {accepted, resting}
    taker, maker = found[accepted], found[resting]
    assert (taker.order_id, taker.client_id, taker.symbol, taker.side, taker.qty,
            taker.price_ticks, taker.time_in_force, taker.post_only, taker.status,
            taker.filled_qty) == (accepted, "client-z", symbol, "BUY", 7, 12_345, "GTC", False,
                                  "ACCEPTED", 0)
    assert (maker.side, maker.qty, maker.price_ticks, maker.status, maker.filled_qty) == (
        "SELL", 3, 9_000, "PARTIALLY_FILLED", 1)
    # Timestamps, region and index keys are outside the projection: not moved, not parsed.
    assert (taker.created_at, taker.accepted_at, taker.region, taker.open_sort) == (None,) * 4
