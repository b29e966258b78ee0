"""Reads over event pages (docs/storage.md): whatever the page boundaries, the events after any
seq, the events up to any seq (newest first), a command's head and the previous trade are exactly
what one event per item would give. Pages here are uneven (1 to 7 events) and commands cross them."""

from __future__ import annotations

from typing import Any

from realtime import storage
from tests.support.stack import StackHandle
from tulip import event_pages, schema
from tulip.config import load_config

SYMBOL = "RTM"
PAGE_SIZES = [3, 1, 7, 2, 5, 1, 4]  # 23 events


def _events() -> list[dict[str, Any]]:
    """Commands of 1-3 events; the last event of a command carries its L2 delta; every third
    event is a trade."""
    out: list[dict[str, Any]] = []
    seq = 0
    for command in range(12):
        for position in range(command % 3 + 1):
            seq += 1
            kind = "TradeExecuted" if seq % 3 == 0 else "OrderOpened"
            out.append({"seq": seq, "symbol": SYMBOL, "type": kind, "ts": "t",
                        "payload": {"n": seq, **({"l2": {}} if position == command % 3 else {})}})
    return out[:sum(PAGE_SIZES)]


def test_reads_across_uneven_pages(rt_stack: StackHandle) -> None:
    events = _events()
    ddb = rt_stack.boto("dynamodb")
    start = 0
    for size in PAGE_SIZES:
        for item in event_pages.page_items(SYMBOL, 0, events[start:start + size]):
            ddb.put_item(TableName=rt_stack.env["TRADES_TABLE"], Item=item)
        start += size
    schema.bind(load_config(rt_stack.env))
    last = events[-1]["seq"]
    seqs = [e["seq"] for e in events]
    for after in range(0, last + 2):
        for limit in (1, 2, 5, 50):
            got = [e["seq"] for e in storage.read_events(SYMBOL, after, limit)]
            assert got == [s for s in seqs if s > after][:limit], (after, limit)
    for through in range(0, last + 2):
        for limit in (1, 3, 50):
            got = [e["seq"] for e in storage._read_backwards(SYMBOL, through, limit)]
            assert got == [s for s in reversed(seqs) if s <= through][:limit], (through, limit)
    for seq in range(1, last + 1):
        # The command in progress at seq: the events after the last one carrying an L2 delta.
        before = [e for e in events if e["seq"] <= seq]
        ends = [e["seq"] for e in before if "l2" in e["payload"]]
        expected = [e["seq"] for e in before if e["seq"] > (ends[-1] if ends else 0)]
        assert [e["seq"] for e in storage.command_head(SYMBOL, seq)] == expected, seq
        trades = [s for s in seqs if s < seq and s % 3 == 0]
        assert storage.last_trade_seq_before(SYMBOL, seq) == (trades[-1] if trades else 0)
    assert {**events[0], "epoch": 0} == {**storage.read_events(SYMBOL, 0, 1)[0]}
