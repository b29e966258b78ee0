"""The only DynamoDB code of ops: the reads reconciliation needs, the fenced append of `Reconciled`
events with their compensating cancels, and the DynamoDB Streams reader of the projection.

Items are tulip.schema's. Ops never deletes or rewrites an item's history: the only writes are new
event pages, the shard's lastSeq (through matching.storage.advance_shard, the one writer of a
shard's ledger position) and open -> CANCELLED transitions of orders (conditioned on the state the
reconciler saw).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from matching.storage import CommitRejected, advance_shard, cancel_order_update, transact
from tulip import aws, event_pages, schema
from tulip import storage as platform_storage
from tulip.config import Config
from tulip.epochs import Chain, canonical
from tulip.schema import (
    ACCEPTED,
    ACCEPTED_SORT_PREFIX,
    CancelItem,
    EventPageItem,
    IdempotencyItem,
    MatcherItem,
    OrderItem,
    ShardItem,
    TradeItem,
)

# Bounds for every paginated read: far past any ledger this simulator keeps; hitting one raises
# instead of looping forever on a misbehaving endpoint.
MAX_ITEMS = 10_000_000
MAX_PAGES = 10_000
MAX_STREAM_SHARDS = 1_000
SHARDS_FRESH_PASSES = 10  # a kept StreamReader describes its streams again after this many passes
RECONCILED = "Reconciled"

_T = TypeVar("_T", bound=Model)


class StorageLimitExceeded(RuntimeError):
    """A paginated read did not finish within its bound."""


# The fenced append was cancelled: the shard moved (another writer committed) or an order we
# meant to cancel is no longer in the state we saw. Re-read and decide again.
AppendConflict = CommitRejected


@dataclass(frozen=True, slots=True)
class EventRow:
    """One decoded market event (tulip.event_pages); an unreadable page still shows its seqs, so
    it never looks like a gap."""

    seq: int
    type: str
    ts: str
    payload: dict[str, Any]
    epoch: int = 0  # the shard epoch that committed it (tulip/epochs.py)


@dataclass(frozen=True, slots=True)
class CompensatingCancel:
    """open -> CANCELLED (cancelReason "reconciled"), only if the order is still as observed."""

    order_id: str
    expected_status: str
    expected_filled: int


@dataclass
class AppendPlan:
    symbol: str
    shard: ShardItem | None  # None: no matcher ever led the shard
    ts: str
    # (payload, cancels) per new event; seqs are the shard's lastSeq + 1, + 2, ...
    events: list[tuple[dict[str, Any], list[CompensatingCancel]]] = field(default_factory=list)


def _bounded(items: Iterable[_T], what: str) -> Iterator[_T]:
    for count, item in enumerate(items):
        if count >= MAX_ITEMS:
            raise StorageLimitExceeded(f"{what} did not finish within {MAX_ITEMS} items")
        yield item


def _get(model: type[_T], key: str) -> _T | None:
    try:
        return model.get(key, key, consistent_read=True)
    except DoesNotExist:
        return None


class OpsStorage:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        schema.bind(cfg)  # the gate's Lambda runs without Django's app registry
        self.ddb: Any = aws.client("dynamodb", cfg)

    # ------------------------------------------------------------------ reads
    def orders(self, symbol: str | None = None, since: str | None = None) -> list[OrderItem]:
        """Every order item (a scan: the ledger audit must see orders no index holds)."""
        condition: Any = OrderItem.pk.startswith(OrderItem.PREFIX)
        if symbol:
            condition &= OrderItem.symbol == symbol
        if since:
            condition &= OrderItem.created_at >= since
        return list(_bounded(OrderItem.scan(condition, consistent_read=True), "orders scan"))

    def cancels(self) -> list[CancelItem]:
        """Every acknowledged user cancel's record (a scan, as for the orders)."""
        condition = CancelItem.pk.startswith(CancelItem.PREFIX)
        return list(_bounded(CancelItem.scan(condition, consistent_read=True), "cancels scan"))

    def order(self, order_id: str) -> OrderItem | None:
        return _get(OrderItem, OrderItem.key(order_id))

    def trade(self, trade_id: str) -> TradeItem | None:
        return _get(TradeItem, TradeItem.key(trade_id))

    def idempotency_owner(self, ik: str) -> str | None:
        """The orderId the idempotency record names: the order the client was told about."""
        record = _get(IdempotencyItem, IdempotencyItem.key(ik))
        return record.order_id if record is not None else None

    def trades(self, symbol: str) -> list[TradeItem]:
        return list(_bounded(TradeItem.symbol_trades.query(symbol), "trades query"))

    def events(self, symbol: str) -> list[EventRow]:
        """Every stored event of the symbol, on the canonical chain or not (EventRow.epoch)."""
        pages = _bounded(EventPageItem.query(EventPageItem.key(symbol), consistent_read=True),
                         "events query")
        return [EventRow(int(e["seq"]), str(e["type"]), str(e["ts"] or ""), e["payload"],
                         int(e["epoch"])) for e in event_pages.flatten(pages)]

    def ledger_items(self) -> list[dict[str, Any]]:
        """Every item of both tables in this region's replica, as stored (low level): what the
        state hash covers (ops/regions.py)."""
        items: list[dict[str, Any]] = []
        for table in (self.cfg.orders_table, self.cfg.trades_table):
            kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
            for _ in range(MAX_PAGES):
                page = self.ddb.scan(**kwargs)
                items.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            else:
                raise StorageLimitExceeded(f"scan of {table} did not finish")
        return items

    def chain(self, symbol: str) -> Chain:
        """The shard's canonical chain of epochs, read now (tulip/epochs.py)."""
        return canonical(platform_storage.epoch_starts(symbol))

    def shard(self, symbol: str) -> ShardItem | None:
        return _get(ShardItem, ShardItem.key(symbol))

    def shards(self, symbols: Iterable[str]) -> dict[str, ShardItem]:
        """The shard items that exist among `symbols` (strongly consistent)."""
        keys = [(ShardItem.key(s), ShardItem.key(s)) for s in symbols]
        found = ShardItem.batch_get(keys, consistent_read=True)
        return {shard.pk.removeprefix(ShardItem.PREFIX): shard
                for shard in _bounded(found, "shards read")}

    def members(self) -> list[MatcherItem]:
        """The announced matcher processes, expired ones included."""
        return list(_bounded(MatcherItem.query(MatcherItem.PARTITION, consistent_read=True),
                             "members query"))

    def accepted_before(self, symbol: str, cutoff: str) -> list[OrderItem]:
        """ACCEPTED orders accepted before `cutoff`: the sweeper's range of the sparse openOrders
        index (`A#<acceptedAt>#<id>`), never a scan."""
        orders = OrderItem.open_orders.query(symbol, OrderItem.open_sort.between(
            ACCEPTED_SORT_PREFIX, f"{ACCEPTED_SORT_PREFIX}{cutoff}"))
        return [o for o in _bounded(orders, "openOrders query") if o.status == ACCEPTED]

    # ------------------------------------------------------------------ the fenced append
    def append(self, plan: AppendPlan) -> int:
        """ONE TransactWriteItems: the event page(s) (attribute_not_exists), the compensating
        cancels (conditioned on the observed state) and the shard's advance conditioned on the
        lastSeq and epoch we read — the matcher's own fencing, so neither can overwrite the
        other's seq. Returns the new lastSeq; raises AppendConflict when cancelled."""
        items: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        start = plan.shard.last_seq if plan.shard is not None else 0
        epoch = plan.shard.epoch if plan.shard is not None else None
        seq = start
        for payload, cancels in plan.events:
            seq += 1
            body = dict(sorted(dict(payload, cancels=[c.order_id for c in cancels]).items()))
            records.append({"seq": seq, "type": RECONCILED, "ts": plan.ts, "payload": body})
            items.extend(cancel_order_update(self.cfg.orders_table, c.order_id,
                                             c.expected_status, c.expected_filled, seq,
                                             epoch or 0, "reconciled", plan.ts) for c in cancels)
        items[:0] = event_pages.page_puts(self.cfg.trades_table, plan.symbol, epoch or 0, records)
        items.append(advance_shard(self.cfg.trades_table, plan.symbol, epoch, start, seq,
                                   plan.ts))
        transact(self.ddb, items)
        return seq


# ---------------------------------------------------------------------- DynamoDB Streams
@dataclass(frozen=True, slots=True)
class StreamRecord:
    table: str  # "orders" | "trades"
    shard_id: str
    sequence_number: str
    event_name: str  # INSERT | MODIFY | REMOVE
    keys: dict[str, Any]
    new_image: dict[str, Any] | None


class StreamReader:
    """Reads both tables' streams shard by shard. Positions are (stream arn, shard id, sequence
    number) triples kept by the caller (the projection's checkpoints in Django's database)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.ddb: Any = aws.client("dynamodb", cfg)
        self.streams: Any = aws.client("dynamodbstreams", cfg)
        # A reader kept across the projector's passes describes each table and stream once per
        # SHARDS_FRESH_PASSES, not in every pass (a table's stream ARN changes only when the
        # stream is re-enabled; shards roll over every few hours, and a closed shard is still
        # read to its end): an idle projector made four describe calls a second.
        self._described: dict[str, tuple[int, str | None, list[str]]] = {}
        self._passes = 0

    def next_pass(self) -> None:
        self._passes += 1

    def stream_shards(self, table: str) -> tuple[str | None, list[str]]:
        """The table's stream ARN and shard ids, described again every SHARDS_FRESH_PASSES."""
        cached = self._described.get(table)
        if cached is not None and self._passes - cached[0] < SHARDS_FRESH_PASSES:
            return cached[1], cached[2]
        arn = self.stream_arn(table)
        ids = self.shard_ids(arn) if arn else []
        self._described[table] = (self._passes, arn, ids)
        return arn, ids

    def stream_arn(self, table: str) -> str | None:
        arn: str | None = self.ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
        return arn

    def shard_ids(self, stream_arn: str) -> list[str]:
        ids: list[str] = []
        kwargs: dict[str, Any] = {"StreamArn": stream_arn}
        for _ in range(MAX_STREAM_SHARDS):
            description = self.streams.describe_stream(**kwargs)["StreamDescription"]
            ids.extend(s["ShardId"] for s in description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return ids
            kwargs["ExclusiveStartShardId"] = last
        raise StorageLimitExceeded("describe_stream did not finish")

    def read(self, kind: str, stream_arn: str, shard_id: str, after: str | None,
             limit: int) -> list[StreamRecord]:
        """Up to `limit` records of one shard after sequence number `after` (from the trim
        horizon when None)."""
        if after:
            iterator = self.streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=after)["ShardIterator"]
        else:
            iterator = self.streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard_id,
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records: list[StreamRecord] = []
        for _ in range(MAX_PAGES):
            if not iterator or len(records) >= limit:
                break
            page = self.streams.get_records(ShardIterator=iterator, Limit=min(1000, limit))
            for raw in page.get("Records", []):
                data = raw["dynamodb"]
                records.append(StreamRecord(kind, shard_id, data["SequenceNumber"],
                                            raw["eventName"], data.get("Keys", {}),
                                            data.get("NewImage")))
            if not page.get("Records"):
                break  # caught up: an open shard keeps handing out iterators forever
            iterator = page.get("NextShardIterator")
        return records[:limit]
