"""An event appended outside the matcher that moves no level (ops' Reconciled event) advances the
published book snapshot's seq, compare-and-set: GET /book then names the shard's lastSeq again,
and a snapshot the matcher published meanwhile (another seq) is never overwritten."""

from __future__ import annotations

from realtime.publisher import advance_book_seq
from tests.support import ws as rt_ws
from tests.support.stack import StackHandle
from tulip.config import load_config


def test_the_snapshot_seq_moves_only_from_the_seq_it_had(rt_stack: StackHandle) -> None:
    cfg = load_config(rt_stack.env)
    publisher = rt_ws.make_publisher(rt_stack)
    levels = {"bids": [{"price": "99.00", "qty": 3, "orders": 1}], "asks": []}
    publisher.publish_book_snapshot("RTM", {"symbol": "RTM", "seq": 11, **levels, "ts": "t"})

    assert advance_book_seq(cfg, "RTM", 11, 12)
    assert not advance_book_seq(cfg, "RTM", 11, 12)  # it is at 12 now: nothing to do
    assert not advance_book_seq(cfg, "RTL", 0, 1)  # no snapshot published: none is made up
    with rt_stack.http(rt_stack.token("alice")) as http:
        book = http.get("/book", params={"symbol": "RTM"}).json()
        missing = http.get("/book", params={"symbol": "RTL"}).json()
    assert (book["seq"], book["bids"], book["asks"]) == (12, levels["bids"], [])
    assert missing["seq"] == 0  # read from DynamoDB: the shard was never written
