"""The event/command classes keep their dataclass contract in both builds (source and mypyc)."""

from __future__ import annotations

import copy
import dataclasses
import pickle

from matching.engine import (
    BookEngine,
    CommandResult,
    L2Delta,
    OrderOpened,
    PlaceOrder,
    TradeExecuted,
)
from tests.unit.engine.helpers import place


def test_events_pickle_copy_and_compare_by_value(book: BookEngine) -> None:
    place(book, "s1", "SELL", 100, 5, client="m")
    r = place(book, "b1", "BUY", 100, 7)
    for obj in (r, *r.events, r.l2_delta):
        assert pickle.loads(pickle.dumps(obj)) == obj
        assert copy.deepcopy(obj) == obj and copy.copy(obj) == obj
    assert type(r) is CommandResult and type(r.l2_delta) is L2Delta


def test_fields_and_replace_are_the_dataclass_ones() -> None:
    names = [f.name for f in dataclasses.fields(TradeExecuted)]
    assert names[:5] == ["seq", "symbol", "ts", "price", "qty"] and names[-1] == "taker_filled"
    assert dataclasses.fields(OrderOpened)[-1].name == "filled"
    cmd = PlaceOrder("o1", "c1", "BUY", 100, 5, 1)
    assert (cmd.tif, cmd.post_only, cmd.stp, cmd.idempotency_key) == ("GTC", False, None, "")
    assert dataclasses.replace(cmd, qty=9) == PlaceOrder("o1", "c1", "BUY", 100, 9, 1)
    assert dataclasses.asdict(cmd)["qty"] == 5
