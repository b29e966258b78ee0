"""The committed market events as stored (docs/storage.md): pages, not one item per event.

A commit writes its events as one item per page: `pk` = `EVENTS#<symbol>`, `sk` = the page's last
seq zero-padded to 20 digits, `firstSeq`/`lastSeq`, and `events` (a JSON list, seq order). Pages
of one symbol are contiguous and never overlap, because seq is gap-free and every page is written
in the same fenced transaction as the shard's lastSeq. A matcher batch's events were ~a third of
its transaction's items; as one page they are one item (fewer items to write and to read back,
and more of DynamoDB's 100-item transaction limit left for trades and orders).

Keying a page by its *last* seq makes "the events after seq s" one key range (`sk > s`): every
page in it holds at least one such event. The item is `tulip.schema.EventPageItem`; this module
is the codec of its `events` list. Pure code: item shapes only, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from tulip.schema import EventPageItem, ItemCodec

# Bounds one page far below DynamoDB's 400 KB item limit: an event, L2 delta included, is well
# under 1 KB. A batch of ten messages makes ~10-20 events, one page; a taker sweeping hundreds of
# makers makes several.
MAX_PAGE_EVENTS = 200


_CODEC = ItemCodec(EventPageItem)
pk = EventPageItem.key
sk = EventPageItem.sort_key


def pages_needed(events: int) -> int:
    return -(-events // MAX_PAGE_EVENTS)


def page_items(symbol: str, epoch: int,
               records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page items (DynamoDB JSON) for `records` ({seq, type, ts, payload}, seq ascending and
    contiguous), committed under `epoch`, at most MAX_PAGE_EVENTS per page."""
    pages = []
    for start in range(0, len(records), MAX_PAGE_EVENTS):
        chunk = records[start:start + MAX_PAGE_EVENTS]
        first, last = int(chunk[0]["seq"]), int(chunk[-1]["seq"])
        assert last - first + 1 == len(chunk), "a page holds contiguous seqs"
        body = [{"seq": int(r["seq"]), "type": r["type"], "ts": r["ts"], "payload": r["payload"]}
                for r in chunk]
        pages.append(_CODEC.item(pk=pk(symbol), sk=sk(last, epoch), symbol=symbol,
                                 first_seq=first, last_seq=last, epoch=epoch,
                                 events=json.dumps(body, separators=(",", ":"))))
    return pages


def page_puts(table: str, symbol: str, epoch: int,
              records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """TransactWriteItems Puts of the pages; a page is written once (its seqs are new)."""
    return [{"Put": {"TableName": table, "Item": item,
                     "ConditionExpression": "attribute_not_exists(pk)"}}
            for item in page_items(symbol, epoch, records)]


def decode(page: EventPageItem) -> list[dict[str, Any]]:
    """A page's events as {seq, symbol, epoch, type, ts, payload}. A page whose JSON cannot be
    read still accounts for its seqs (type "Unreadable"), so a broken page never looks like a
    seq gap."""
    symbol = page.symbol or page.pk.removeprefix(EventPageItem.PREFIX)
    epoch = page.epoch or 0
    last = page.last_seq if page.last_seq is not None else int(page.sk)
    first = page.first_seq if page.first_seq is not None else last
    try:
        body = json.loads(page.events or "")
        events = [{"seq": int(e["seq"]), "symbol": symbol, "epoch": epoch, "type": str(e["type"]),
                   "ts": e.get("ts"), "payload": e["payload"] if isinstance(e.get("payload"), dict)
                   else {}} for e in body]
    except (ValueError, TypeError, KeyError):
        events = [{"seq": s, "symbol": symbol, "epoch": epoch, "type": "Unreadable", "ts": None,
                   "payload": {"unparseable": True}} for s in range(first, last + 1)]
    return events


def flatten(pages: Iterable[EventPageItem]) -> list[dict[str, Any]]:
    """The events of pages given in ascending key order, ascending."""
    return [event for page in pages for event in decode(page)]


def decode_item(item: dict[str, Any]) -> list[dict[str, Any]]:
    """`decode` of a low-level page item (DynamoDB JSON, e.g. a transaction's Put or a stream
    image)."""
    return decode(EventPageItem.from_raw_data(item))
