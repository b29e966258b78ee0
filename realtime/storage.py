"""Read-only access to the committed market events (docs/storage.md): pages of events
(tulip.schema.EventPageItem, sort key = the page's last seq; codec tulip/event_pages.py).
Realtime never writes the state of record.

All reads are strongly consistent on the base table: a message chain built from a stale read
could hide a gap, which is the one thing the seq chain exists to reveal."""

from __future__ import annotations

from typing import Any

from orders.storage import shard_last_seq
from realtime.messages import MATCHER_TYPES
from tulip import event_pages, storage
from tulip.schema import EventPageItem, TradeItem

MAX_PAGE = 1000
# Bounds on the backward scans: a command is at most a few hundred events (a taker sweeping the
# book); the previous trade is looked for this far back before asking the trades index.
MAX_HEAD_SCAN = 1000
MAX_TRADE_SCAN = 2000
MAX_QUERY_PAGES = 10  # queries one read may make to skip past off-chain pages

__all__ = ["command_head", "last_trade_seq_before", "read_events", "shard_last_seq"]


def _pages(symbol: str, after: int | None, upto: int | None, *, forward: bool,
           limit: int) -> list[EventPageItem]:
    """Up to `limit` canonical event pages of `symbol` whose last seq is > `after` (or < `upto`),
    in seq order (descending when not `forward`). Pages off the shard's canonical chain (a
    deposed region's un-replicated tail, tulip/epochs.py) are skipped: history, not market
    data."""
    chain = storage.chain(symbol)
    condition = (EventPageItem.sk > EventPageItem.last_key_of(after) if after is not None
                 else EventPageItem.sk < EventPageItem.first_key_of(upto or 0))
    pages: list[EventPageItem] = []
    start: dict[str, Any] | None = None
    for _ in range(MAX_QUERY_PAGES):
        result = EventPageItem.query(EventPageItem.key(symbol), condition, consistent_read=True,
                                     scan_index_forward=forward, limit=limit - len(pages),
                                     last_evaluated_key=start)
        pages.extend(p for p in result if chain.covers(p.epoch, p.last_seq))
        start = result.last_evaluated_key
        if start is None or len(pages) >= limit:
            break
    return pages


def read_events(symbol: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
    """Events with seq > after_seq, ascending, at most `limit` (<= MAX_PAGE). Every page keyed
    above after_seq holds at least one of them, so `limit` pages always suffice."""
    limit = max(1, min(limit, MAX_PAGE))
    events = [e for e in event_pages.flatten(
        _pages(symbol, after_seq, None, forward=True, limit=limit)) if e["seq"] > after_seq]
    return events[:limit]


def _read_backwards(symbol: str, through_seq: int, limit: int) -> list[dict[str, Any]]:
    """Events with seq <= through_seq, newest first, at most `limit`: the page holding
    through_seq (the first keyed at or above it), then older pages."""
    holding = _pages(symbol, through_seq - 1, None, forward=True, limit=1)
    events = [e for e in event_pages.flatten(holding) if e["seq"] <= through_seq]
    events.reverse()
    if len(events) >= limit:
        return events[:limit]  # the holding page alone answers: no second query
    for page in _pages(symbol, None, through_seq, forward=False, limit=limit - len(events)):
        events.extend(reversed(event_pages.decode(page)))
        if len(events) >= limit:
            break
    return events[:limit]


def command_head(symbol: str, seq: int) -> list[dict[str, Any]]:
    """The events (ascending) of the command in progress at `seq`: those with seq <= `seq` after
    the last command boundary. Empty when `seq` is itself a boundary (the usual case)."""
    if seq <= 0:
        return []
    head: list[dict[str, Any]] = []
    cursor = seq
    while len(head) < MAX_HEAD_SCAN and cursor > 0:
        batch = _read_backwards(symbol, cursor, 100)
        if not batch:
            break
        for event in batch:
            if "l2" in event["payload"] or event["type"] not in MATCHER_TYPES:
                return list(reversed(head))
            head.append(event)
        cursor = batch[-1]["seq"] - 1
    return list(reversed(head))


def last_trade_seq_before(symbol: str, seq: int) -> int:
    """Seq of the last TradeExecuted with seq < `seq` (0 if none): the trades topic's prevSeq."""
    cursor = seq - 1
    scanned = 0
    while cursor > 0 and scanned < MAX_TRADE_SCAN:
        batch = _read_backwards(symbol, cursor, 200)
        if not batch:
            return 0
        for event in batch:
            if event["type"] == "TradeExecuted":
                return int(event["seq"])
        scanned += len(batch)
        cursor = batch[-1]["seq"] - 1
    if cursor <= 0:
        return 0
    # Far back: the trades index (eventually consistent, but these trades are old news).
    chain = storage.chain(symbol)
    older = TradeItem.symbol_trades.query(symbol, TradeItem.seq < cursor + 1,
                                          scan_index_forward=False, limit=MAX_TRADE_SCAN)
    return next((t.seq for t in older if chain.covers(t.epoch, t.seq)), 0)
