"""Read-only access to the committed market events (docs/storage.md): pages of events
(`EVENTS#<symbol>` items in the trades table, `sk` = the page's last seq zero-padded to 20 digits;
matching/event_pages.py). Realtime never writes the state of record.

All reads are strongly consistent on the base table: a message chain built from a stale read
could hide a gap, which is the one thing the seq chain exists to reveal."""

from __future__ import annotations

from typing import Any

from matching import event_pages
from realtime.messages import MATCHER_TYPES
from tulip import aws
from tulip.config import Config

SHARD_PREFIX = "SHARD#"
MAX_PAGE = 1000
# Bounds on the backward scans: a command is at most a few hundred events (a taker sweeping the
# book); the previous trade is looked for this far back before asking the trades index.
MAX_HEAD_SCAN = 1000
MAX_TRADE_SCAN = 2000
MAX_QUERY_PAGES = 10  # DynamoDB pages (1 MB each) one read may follow


def _ddb(cfg: Config) -> Any:
    return aws.client("dynamodb", cfg)


def _pages(cfg: Config, symbol: str, condition: str, seq: int, *, forward: bool,
           limit: int) -> list[dict[str, Any]]:
    """Up to `limit` event pages whose key satisfies `sk <condition> seq`, in key order
    (descending when not `forward`)."""
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    for _ in range(MAX_QUERY_PAGES):
        kwargs: dict[str, Any] = {
            "TableName": cfg.trades_table, "ConsistentRead": True, "ScanIndexForward": forward,
            "Limit": limit - len(items), "KeyConditionExpression": f"pk = :pk AND sk {condition} :sk",
            "ExpressionAttributeValues": {":pk": {"S": event_pages.pk(symbol)},
                                          ":sk": {"S": event_pages.sk(seq)}},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = _ddb(cfg).query(**kwargs)
        items.extend(page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start or len(items) >= limit:
            break
    return items


def read_events(cfg: Config, symbol: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
    """Events with seq > after_seq, ascending, at most `limit` (≤ MAX_PAGE). Every page keyed
    above after_seq holds at least one of them, so `limit` pages always suffice."""
    limit = max(1, min(limit, MAX_PAGE))
    events = [e for e in event_pages.flatten(
        _pages(cfg, symbol, ">", after_seq, forward=True, limit=limit)) if e["seq"] > after_seq]
    return events[:limit]


def _read_backwards(cfg: Config, symbol: str, through_seq: int, limit: int) -> list[dict[str, Any]]:
    """Events with seq ≤ through_seq, newest first, at most `limit`: the page holding
    through_seq (the first keyed at or above it), then older pages."""
    holding = _pages(cfg, symbol, ">=", through_seq, forward=True, limit=1)
    events = [e for e in event_pages.flatten(holding) if e["seq"] <= through_seq]
    events.reverse()
    if len(events) >= limit:
        return events[:limit]  # the holding page alone answers: no second query
    for item in _pages(cfg, symbol, "<", through_seq, forward=False, limit=limit - len(events)):
        events.extend(reversed(event_pages.decode(item)))
        if len(events) >= limit:
            break
    return events[:limit]


def command_head(cfg: Config, symbol: str, seq: int) -> list[dict[str, Any]]:
    """The events (ascending) of the command in progress at `seq`: those with seq ≤ `seq` after
    the last command boundary. Empty when `seq` is itself a boundary (the usual case)."""
    if seq <= 0:
        return []
    head: list[dict[str, Any]] = []
    cursor = seq
    while len(head) < MAX_HEAD_SCAN and cursor > 0:
        batch = _read_backwards(cfg, symbol, cursor, 100)
        if not batch:
            break
        for event in batch:
            if "l2" in event["payload"] or event["type"] not in MATCHER_TYPES:
                return list(reversed(head))
            head.append(event)
        cursor = batch[-1]["seq"] - 1
    return list(reversed(head))


def last_trade_seq_before(cfg: Config, symbol: str, seq: int) -> int:
    """Seq of the last TradeExecuted with seq < `seq` (0 if none): the trades topic's prevSeq."""
    cursor = seq - 1
    scanned = 0
    while cursor > 0 and scanned < MAX_TRADE_SCAN:
        batch = _read_backwards(cfg, symbol, cursor, 200)
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
    page = _ddb(cfg).query(
        TableName=cfg.trades_table, IndexName="symbolTrades", ScanIndexForward=False, Limit=1,
        KeyConditionExpression="tradeSymbol = :s AND seq < :q",
        ExpressionAttributeValues={":s": {"S": symbol}, ":q": {"N": str(cursor + 1)}})
    items = page.get("Items", [])
    return int(items[0]["seq"]["N"]) if items else 0


def shard_last_seq(cfg: Config, symbol: str) -> int:
    item = _ddb(cfg).get_item(
        TableName=cfg.trades_table, ConsistentRead=True,
        Key={"pk": {"S": SHARD_PREFIX + symbol}, "sk": {"S": SHARD_PREFIX + symbol}}).get("Item")
    return int(item["lastSeq"]["N"]) if item and "lastSeq" in item else 0
