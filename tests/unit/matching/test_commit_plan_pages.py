"""A batch's events are written as event pages inside its fenced transactions: one page per chunk
holding exactly that chunk's events, keyed by its last seq; chunks and pages stay contiguous; a
page is never split from the shard update that makes its seqs visible."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from matching.storage import MAX_TRANSACTION_ITEMS, CommandWrites, CommitPlan, OrderUpdate
from tulip import event_pages
from tulip.schema import EventPageItem

CFG: Any = SimpleNamespace(orders_table="orders", trades_table="trades", aws_region="us-east-1",
                           availability_zone=None)


def _command(seq: int, events: int, puts: int = 0, updates: int = 1) -> CommandWrites:
    """A command whose events take seqs seq..seq+events-1."""
    records = [{"seq": s, "type": "TradeExecuted", "ts": "t", "payload": {"n": s}}
               for s in range(seq, seq + events)]
    trade_puts = [{"Put": {"TableName": "trades", "Item": {"pk": {"S": f"TRADE#{seq}-{i}"}}}}
                  for i in range(puts)]
    order_updates = {f"o{seq}-{i}": OrderUpdate(f"o{seq}-{i}", 0, 1, 1, "FILLED", seq + events - 1,
                                                closed=True) for i in range(updates)}
    return CommandWrites(trade_puts, order_updates, seq + events - 1, seq, records)


def _plan(commands: list[CommandWrites], start: int = 0) -> list[list[dict[str, Any]]]:
    plan = CommitPlan(CFG, "SYM", 1, start, "now", commands)
    return list(plan.chunks())


def _pages(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i["Put"]["Item"] for i in chunk
            if "Put" in i and i["Put"]["Item"]["pk"]["S"].startswith(EventPageItem.PREFIX)]


def _shard(chunk: list[dict[str, Any]]) -> tuple[int, int]:
    values = chunk[-1]["Update"]["ExpressionAttributeValues"]
    return int(values[":expected"]["N"]), int(values[":last"]["N"])


def test_one_batch_is_one_page_before_the_fenced_shard_update() -> None:
    (chunk,) = _plan([_command(1, 2), _command(3, 1), _command(4, 3)])
    (page,) = _pages(chunk)
    assert page["sk"]["S"] == event_pages.sk(6, 1)  # the plan's epoch
    assert (page["firstSeq"]["N"], page["lastSeq"]["N"]) == ("1", "6")
    assert [e["seq"] for e in event_pages.decode_item(page)] == [1, 2, 3, 4, 5, 6]
    assert _shard(chunk) == (0, 6)
    assert len(chunk) == 1 + 3 + 1  # the page, three order updates, the shard update


def test_chunks_split_with_a_page_each_and_stay_contiguous() -> None:
    # 40 commands x (2 trade puts + 2 updates) = 160 items: more than one transaction.
    commands = [_command(1 + 2 * i, 2, puts=2, updates=2) for i in range(40)]
    chunks = _plan(commands)
    assert len(chunks) >= 2
    seen: list[int] = []
    expected_start = 0
    for chunk in chunks:
        assert len(chunk) <= MAX_TRANSACTION_ITEMS
        (page,) = _pages(chunk)
        seqs = [e["seq"] for e in event_pages.decode_item(page)]
        start, last = _shard(chunk)
        assert start == expected_start and seqs == list(range(start + 1, last + 1))
        seen.extend(seqs)
        expected_start = last
    assert seen == list(range(1, 81))


def test_an_oversized_command_keeps_its_page_in_a_piece_and_advances_only_at_the_end() -> None:
    sweep = _command(11, 150, puts=150, updates=151)  # a taker sweeping 150 makers
    chunks = _plan([_command(1, 10), sweep, _command(161, 1)], start=0)
    pages = [p for c in chunks for p in _pages(c)]
    assert [e["seq"] for p in pages for e in event_pages.decode_item(p)] == list(range(1, 162))
    shards = [_shard(c) for c in chunks]
    assert shards[0] == (0, 10)
    # The sweep's pieces: none advances lastSeq but the last.
    sweep_pieces = shards[1:-1]
    assert all(last == 10 for _, last in sweep_pieces[:-1]) and sweep_pieces[-1] == (10, 160)
    assert shards[-1] == (160, 161)
    assert all(len(c) <= MAX_TRANSACTION_ITEMS for c in chunks)


def test_page_round_trip_split_and_unreadable_page() -> None:
    records = [{"seq": s, "type": "OrderOpened", "ts": "t", "payload": {"l2": s}}
               for s in range(5, 5 + event_pages.MAX_PAGE_EVENTS + 3)]
    items = event_pages.page_items("SYM", 7, records)
    assert len(items) == 2 and event_pages.pages_needed(len(records)) == 2
    assert items[0]["sk"]["S"] == event_pages.sk(4 + event_pages.MAX_PAGE_EVENTS, 7)
    decoded = event_pages.flatten(EventPageItem.from_raw_data(i) for i in items)
    assert [e["seq"] for e in decoded] == [r["seq"] for r in records]
    assert decoded[0] == {"seq": 5, "symbol": "SYM", "epoch": 7, "type": "OrderOpened",
                          "ts": "t", "payload": {"l2": 5}}
    broken = dict(items[1], events={"S": "{not json"})
    assert [(e["seq"], e["type"]) for e in event_pages.decode_item(broken)] == [
        (s, "Unreadable") for s in range(5 + event_pages.MAX_PAGE_EVENTS, 8 + event_pages.MAX_PAGE_EVENTS)]
    assert json.loads(items[1]["events"]["S"])[0]["seq"] == 5 + event_pages.MAX_PAGE_EVENTS


def test_a_page_refuses_non_contiguous_seqs() -> None:
    with pytest.raises(AssertionError):
        event_pages.page_items("SYM", 1, [{"seq": 1, "type": "x", "ts": "t", "payload": {}},
                                       {"seq": 3, "type": "x", "ts": "t", "payload": {}}])
