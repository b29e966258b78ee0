"""The only DynamoDB code of ops: the reads reconciliation needs, the fenced append of `Reconciled`
events with their compensating cancels, and the DynamoDB Streams reader of the projection.

Item shapes are docs/storage.md's. Ops never deletes or rewrites an item's history: the only
writes are new event items (attribute_not_exists), the SHARD item's lastSeq (fenced exactly like
the matcher's commit) and open -> CANCELLED transitions of orders (conditioned on the state the
reconciler saw).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from matching import event_pages
from orders.domain import OPEN_STATES
from tulip import aws
from tulip.config import Config

# Bounds for every paginated read: 10k pages x 1 MB is far past any ledger this simulator keeps;
# hitting it raises instead of looping forever on a misbehaving endpoint.
MAX_PAGES = 10_000
MAX_STREAM_SHARDS = 1_000
RECONCILED = "Reconciled"


class StorageLimitExceeded(RuntimeError):
    """A paginated read did not finish within MAX_PAGES."""


class AppendConflict(Exception):
    """The fenced append was cancelled: the shard moved (another writer committed) or an order we
    meant to cancel is no longer in the state we saw. Re-read and decide again."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: str
    client_id: str
    symbol: str
    side: str
    qty: int
    price_ticks: int
    status: str
    filled_qty: int
    idempotency_key: str
    created_at: str
    accepted_at: str
    updated_at: str
    seq: int | None
    cancel_reason: str | None


@dataclass(frozen=True, slots=True)
class TradeRow:
    trade_id: str
    symbol: str
    seq: int
    qty: int
    price_ticks: int
    buy_order_id: str
    sell_order_id: str
    ts: str


@dataclass(frozen=True, slots=True)
class EventRow:
    seq: int
    type: str
    ts: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ShardRow:
    symbol: str
    exists: bool
    last_seq: int
    epoch: int
    leader: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class CompensatingCancel:
    """open -> CANCELLED (cancelReason "reconciled"), only if the order is still as observed."""

    order_id: str
    expected_status: str
    expected_filled: int


@dataclass
class AppendPlan:
    symbol: str
    shard: ShardRow
    ts: str
    # (payload, cancels) per new event; seqs are shard.last_seq + 1, + 2, ...
    events: list[tuple[dict[str, Any], list[CompensatingCancel]]] = field(default_factory=list)


def _s(item: dict[str, Any], name: str, default: str = "") -> str:
    return str(item[name]["S"]) if name in item and "S" in item[name] else default


def _n(item: dict[str, Any], name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item and "N" in item[name] else default


def order_from_item(item: dict[str, Any]) -> OrderRow:
    return OrderRow(
        order_id=_s(item, "orderId"), client_id=_s(item, "clientId"), symbol=_s(item, "symbol"),
        side=_s(item, "side"), qty=_n(item, "qty"), price_ticks=_n(item, "priceTicks"),
        status=_s(item, "status"), filled_qty=_n(item, "filledQty"),
        idempotency_key=_s(item, "idempotencyKey"), created_at=_s(item, "createdAt"),
        accepted_at=_s(item, "acceptedAt"), updated_at=_s(item, "updatedAt"),
        seq=_n(item, "seq") if "seq" in item else None,
        cancel_reason=_s(item, "cancelReason") or None)


def trade_from_item(item: dict[str, Any]) -> TradeRow:
    return TradeRow(
        trade_id=_s(item, "tradeId"), symbol=_s(item, "symbol"), seq=_n(item, "seq"),
        qty=_n(item, "qty"), price_ticks=_n(item, "priceTicks"),
        buy_order_id=_s(item, "buyOrderId"), sell_order_id=_s(item, "sellOrderId"),
        ts=_s(item, "ts"))


def _event_row(event: dict[str, Any]) -> EventRow:
    """One decoded event of a page (matching/event_pages.py); an unreadable page still shows its
    seqs, so it never looks like a gap."""
    return EventRow(seq=int(event["seq"]), type=str(event["type"]), ts=str(event["ts"] or ""),
                    payload=event["payload"])  # decode always gives a dict


class OpsStorage:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.ddb: Any = aws.client("dynamodb", cfg)

    def _pages(self, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        call = getattr(self.ddb, operation)
        for _ in range(MAX_PAGES):
            page = call(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        raise StorageLimitExceeded(f"{operation} did not finish within {MAX_PAGES} pages")

    # ------------------------------------------------------------------ reads
    def orders(self, symbol: str | None = None, since: str | None = None) -> list[OrderRow]:
        """Every order item (a scan: the ledger audit must see orders no index holds)."""
        expression = "begins_with(pk, :p)"
        values: dict[str, Any] = {":p": {"S": "ORDER#"}}
        if symbol:
            expression += " AND symbol = :sym"
            values[":sym"] = {"S": symbol}
        if since:
            expression += " AND createdAt >= :since"
            values[":since"] = {"S": since}
        items = self._pages("scan", TableName=self.cfg.orders_table, ConsistentRead=True,
                            FilterExpression=expression, ExpressionAttributeValues=values)
        return [order_from_item(i) for i in items]

    def order(self, order_id: str) -> OrderRow | None:
        key = {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"ORDER#{order_id}"}}
        item = self.ddb.get_item(TableName=self.cfg.orders_table, Key=key,
                                 ConsistentRead=True).get("Item")
        return order_from_item(item) if item else None

    def order_item(self, order_id: str) -> dict[str, Any] | None:
        key = {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"ORDER#{order_id}"}}
        item: dict[str, Any] | None = self.ddb.get_item(
            TableName=self.cfg.orders_table, Key=key, ConsistentRead=True).get("Item")
        return item

    def trade_item(self, trade_id: str) -> dict[str, Any] | None:
        key = {"pk": {"S": f"TRADE#{trade_id}"}, "sk": {"S": f"TRADE#{trade_id}"}}
        item: dict[str, Any] | None = self.ddb.get_item(
            TableName=self.cfg.trades_table, Key=key, ConsistentRead=True).get("Item")
        return item

    def idempotency_owner(self, ik: str) -> str | None:
        """The orderId the idempotency record names: the order the client was told about."""
        key = {"pk": {"S": f"IDEMP#{ik}"}, "sk": {"S": f"IDEMP#{ik}"}}
        item = self.ddb.get_item(TableName=self.cfg.orders_table, Key=key,
                                 ConsistentRead=True).get("Item")
        return _s(item, "orderId") or None if item else None

    def trades(self, symbol: str) -> list[TradeRow]:
        items = self._pages("query", TableName=self.cfg.trades_table, IndexName="symbolTrades",
                            KeyConditionExpression="tradeSymbol = :s",
                            ExpressionAttributeValues={":s": {"S": symbol}})
        return [trade_from_item(i) for i in items]

    def events(self, symbol: str) -> list[EventRow]:
        items = self._pages("query", TableName=self.cfg.trades_table, ConsistentRead=True,
                            KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": event_pages.pk(symbol)}})
        return [_event_row(e) for e in event_pages.flatten(items)]

    def shard(self, symbol: str) -> ShardRow:
        key = {"pk": {"S": f"SHARD#{symbol}"}, "sk": {"S": f"SHARD#{symbol}"}}
        item = self.ddb.get_item(TableName=self.cfg.trades_table, Key=key,
                                 ConsistentRead=True).get("Item")
        if not item:
            return ShardRow(symbol, False, 0, 0, "", "")
        return ShardRow(symbol, True, _n(item, "lastSeq"), _n(item, "epoch"), _s(item, "leader"),
                        _s(item, "updatedAt"))

    def accepted_before(self, symbol: str, cutoff: str) -> list[OrderRow]:
        """ACCEPTED orders accepted before `cutoff`: the sweeper's range of the sparse openOrders
        index (`A#<acceptedAt>#<id>`), never a scan."""
        items = self._pages(
            "query", TableName=self.cfg.orders_table, IndexName="openOrders",
            KeyConditionExpression="openSymbol = :s AND openSort BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":s": {"S": symbol}, ":lo": {"S": "A#"},
                                       ":hi": {"S": f"A#{cutoff}"}})
        return [o for o in (order_from_item(i) for i in items) if o.status == "ACCEPTED"]

    # ------------------------------------------------------------------ the fenced append
    def append(self, plan: AppendPlan) -> int:
        """ONE TransactWriteItems: the event page(s) (attribute_not_exists), the compensating
        cancels (conditioned on the observed state) and the SHARD update conditioned on the
        lastSeq (and epoch) we read — the matcher's own fencing, so neither can overwrite the
        other's seq. Returns the new lastSeq."""
        items: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        seq = plan.shard.last_seq
        for payload, cancels in plan.events:
            seq += 1
            body = dict(sorted(dict(payload, cancels=[c.order_id for c in cancels]).items()))
            records.append({"seq": seq, "type": RECONCILED, "ts": plan.ts, "payload": body})
            items.extend(self._cancel(c, seq, plan.ts) for c in cancels)
        items[:0] = event_pages.page_puts(self.cfg.trades_table, plan.symbol, records)
        items.append(self._shard_update(plan, seq))
        try:
            self.ddb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            raise AppendConflict([r.get("Code", "None") for r in
                                  exc.response.get("CancellationReasons", [])]) from None
        return seq

    def _cancel(self, cancel: CompensatingCancel, seq: int, now: str) -> dict[str, Any]:
        open_values = {f":o{i}": {"S": s} for i, s in enumerate(OPEN_STATES)}
        return {"Update": {
            "TableName": self.cfg.orders_table,
            "Key": {"pk": {"S": f"ORDER#{cancel.order_id}"},
                    "sk": {"S": f"ORDER#{cancel.order_id}"}},
            "UpdateExpression": "SET #st = :cancelled, cancelReason = :reason, seq = :seq, "
                                "updatedAt = :now REMOVE openSymbol, openSort",
            # Exactly the state the reconciler saw: a fill or user cancel that landed since wins,
            # and the reconciler re-reads instead of cancelling something it did not judge.
            "ConditionExpression": f"#st = :expected AND filledQty = :filled AND "
                                   f"#st IN ({', '.join(open_values)})",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {
                ":cancelled": {"S": "CANCELLED"}, ":reason": {"S": "reconciled"},
                ":seq": {"N": str(seq)}, ":now": {"S": now},
                ":expected": {"S": cancel.expected_status},
                ":filled": {"N": str(cancel.expected_filled)}, **open_values},
        }}

    def _shard_update(self, plan: AppendPlan, new_last: int) -> dict[str, Any]:
        values: dict[str, Any] = {":last": {"N": str(new_last)}, ":now": {"S": plan.ts}}
        if plan.shard.exists:
            values[":expected"] = {"N": str(plan.shard.last_seq)}
            values[":epoch"] = {"N": str(plan.shard.epoch)}
            return {"Update": {
                "TableName": self.cfg.trades_table,
                "Key": {"pk": {"S": f"SHARD#{plan.symbol}"}, "sk": {"S": f"SHARD#{plan.symbol}"}},
                "UpdateExpression": "SET lastSeq = :last, updatedAt = :now",
                "ConditionExpression": "epoch = :epoch AND lastSeq = :expected",
                "ExpressionAttributeValues": values,
            }}
        # No matcher ever led this shard: create it at epoch 0, exactly where acquire_shard's
        # if_not_exists would start, so a later matcher continues after our seq.
        values[":zero"] = {"N": "0"}
        values[":symbol"] = {"S": plan.symbol}
        return {"Update": {
            "TableName": self.cfg.trades_table,
            "Key": {"pk": {"S": f"SHARD#{plan.symbol}"}, "sk": {"S": f"SHARD#{plan.symbol}"}},
            "UpdateExpression": "SET lastSeq = :last, updatedAt = :now, epoch = :zero, "
                                "symbol = :symbol",
            "ConditionExpression": "attribute_not_exists(pk)",
            "ExpressionAttributeValues": values,
        }}


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
