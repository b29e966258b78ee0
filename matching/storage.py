"""The only DynamoDB code of the matcher: shard leadership, the book rebuild, the order states a
batch needs and the fenced group commit. Item shapes: docs/storage.md (event pages:
matching/event_pages.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from matching import event_pages
from orders.domain import OPEN_STATES
from tulip import aws
from tulip.config import Config

MAX_TRANSACTION_ITEMS = 100
MAX_REBUILD_PAGES = 10_000  # 10k pages x 1 MB: far past any book we simulate; bounds the loop


def shard_key(symbol: str) -> dict[str, Any]:
    return {"pk": {"S": f"SHARD#{symbol}"}, "sk": {"S": f"SHARD#{symbol}"}}


def order_key(order_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"ORDER#{order_id}"}}


def trade_id(symbol: str, seq: int) -> str:
    """Deterministic from shard and seq: a replayed commit writes the same id and is refused."""
    return f"{symbol}-{seq:012d}"


@dataclass(frozen=True, slots=True)
class Shard:
    symbol: str
    last_seq: int
    epoch: int
    last_sqs_seq: int


@dataclass(frozen=True, slots=True)
class StoredOrder:
    order_id: str
    client_id: str
    symbol: str
    side: str
    qty: int
    price_ticks: int
    time_in_force: str
    post_only: bool
    status: str
    filled_qty: int
    filled_notional: int
    created_at: str
    accepted_at: str
    updated_at: str
    region: str
    seq: int | None
    open_sort: str | None


# What the matcher reads of an order it is about to match: status is the dedupe of record (design
# §6), the rest builds the PlaceOrder. Timestamps, region and index keys are not needed to match,
# and every attribute read is one more to move and parse per order on the hot path.
MATCH_ATTRIBUTES = ("orderId", "clientId", "symbol", "side", "qty", "priceTicks", "timeInForce",
                    "postOnly", "status", "filledQty")
_MATCH_NAMES = {f"#m{i}": name for i, name in enumerate(MATCH_ATTRIBUTES)}
_MATCH_PROJECTION = ", ".join(_MATCH_NAMES)


def _order_from_item(item: dict[str, Any]) -> StoredOrder:
    def s(name: str, default: str = "") -> str:
        return str(item[name]["S"]) if name in item else default

    def n(name: str, default: int = 0) -> int:
        return int(item[name]["N"]) if name in item else default

    return StoredOrder(
        order_id=s("orderId"), client_id=s("clientId"), symbol=s("symbol"), side=s("side"),
        qty=n("qty"), price_ticks=n("priceTicks"), time_in_force=s("timeInForce", "GTC"),
        post_only=bool(item.get("postOnly", {}).get("BOOL", False)), status=s("status"),
        filled_qty=n("filledQty"), filled_notional=n("filledNotionalTicks"),
        created_at=s("createdAt"), accepted_at=s("acceptedAt"), updated_at=s("updatedAt"),
        region=s("region"), seq=n("seq") if "seq" in item else None,
        open_sort=s("openSort") or None,
    )


class MatcherStorage:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.ddb = aws.client("dynamodb", cfg, profile="matcher")

    # ------------------------------------------------------------------ leadership
    def acquire_shard(self, symbol: str, leader: str, now: str) -> Shard:
        """Become the shard's matcher: epoch + 1 fences every earlier holder (design §6)."""
        result = self.ddb.update_item(
            TableName=self.cfg.trades_table, Key=shard_key(symbol),
            UpdateExpression="SET epoch = if_not_exists(epoch, :zero) + :one, "
                             "lastSeq = if_not_exists(lastSeq, :zero), "
                             "lastSqsSeq = if_not_exists(lastSqsSeq, :zeros), "
                             "leader = :leader, updatedAt = :now, symbol = :symbol",
            ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"},
                                       ":zeros": {"S": "0"}, ":leader": {"S": leader},
                                       ":now": {"S": now}, ":symbol": {"S": symbol}},
            ReturnValues="ALL_NEW",
        )
        return self._shard(symbol, result["Attributes"])

    def read_shard(self, symbol: str) -> Shard:
        item = self.ddb.get_item(TableName=self.cfg.trades_table, Key=shard_key(symbol),
                                 ConsistentRead=True).get("Item", {})
        return self._shard(symbol, item)

    @staticmethod
    def _shard(symbol: str, item: dict[str, Any]) -> Shard:
        return Shard(symbol, int(item.get("lastSeq", {}).get("N", "0")),
                     int(item.get("epoch", {}).get("N", "0")),
                     int(item.get("lastSqsSeq", {}).get("S", "0")))

    # ------------------------------------------------------------------ reads
    def resting_orders(self, symbol: str) -> Iterator[StoredOrder]:
        """Open orders on the book in priority order (openOrders index, "B#<seq>"), never a scan."""
        kwargs: dict[str, Any] = {
            "TableName": self.cfg.orders_table, "IndexName": "openOrders",
            "KeyConditionExpression": "openSymbol = :s AND begins_with(openSort, :b)",
            "ExpressionAttributeValues": {":s": {"S": symbol}, ":b": {"S": "B#"}},
        }
        for _ in range(MAX_REBUILD_PAGES):
            page = self.ddb.query(**kwargs)
            for item in page.get("Items", []):
                order = _order_from_item(item)
                if order.status in OPEN_STATES:
                    yield order
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        raise RuntimeError("open-orders rebuild exceeded its page bound")

    def orders(self, order_ids: Sequence[str]) -> dict[str, StoredOrder]:
        """What matching needs of the given orders (MATCH_ATTRIBUTES), strongly consistent
        (BatchGetItem, ≤ 100 keys); the StoredOrder fields outside that projection are empty."""
        found: dict[str, StoredOrder] = {}
        unique = list(dict.fromkeys(order_ids))
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {self.cfg.orders_table: {
                "Keys": [order_key(i) for i in unique[start:start + 100]], "ConsistentRead": True,
                "ProjectionExpression": _MATCH_PROJECTION, "ExpressionAttributeNames": _MATCH_NAMES}}
            for _ in range(10):  # unprocessed keys are retried a bounded number of times
                response = self.ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.cfg.orders_table, []):
                    order = _order_from_item(item)
                    found[order.order_id] = order
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    # ------------------------------------------------------------------ commit
    def commit(self, plan: CommitPlan) -> None:
        """Write a batch: each chunk is ONE TransactWriteItems ending with the fenced shard update.
        Raises CommitRejected with the reasons when DynamoDB cancels a chunk."""
        for chunk in plan.chunks():
            try:
                self.ddb.transact_write_items(TransactItems=chunk)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in exc.response.get(
                    "CancellationReasons", [])]
                raise CommitRejected(reasons, chunk) from None


class CommitRejected(Exception):
    def __init__(self, reasons: list[str], items: list[dict[str, Any]]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons
        self.items = items

    @property
    def shard_conflict(self) -> bool:
        """The fenced shard update (always the last item) failed: epoch or lastSeq moved."""
        return bool(self.reasons) and self.reasons[-1] == "ConditionalCheckFailed"


@dataclass
class OrderUpdate:
    """The net change of one order over one or more commands, written as ONE Update (DynamoDB
    refuses two operations on one item in a transaction)."""

    order_id: str
    expected_filled: int  # filledQty in DynamoDB before these commands: the fencing condition
    filled: int
    notional_delta: int
    status: str
    seq: int
    open_sort: str | None = None  # set when the order came to rest
    closed: bool = False  # terminal: leaves the openOrders index
    cancel_reason: str | None = None

    def merge(self, later: OrderUpdate) -> OrderUpdate:
        return OrderUpdate(
            self.order_id, self.expected_filled, later.filled,
            self.notional_delta + later.notional_delta, later.status, later.seq,
            later.open_sort or (None if later.closed else self.open_sort), later.closed,
            later.cancel_reason or self.cancel_reason)

    def render(self, cfg: Config, now: str) -> dict[str, Any]:
        sets = ["#st = :status", "filledQty = :filled", "seq = :seq", "updatedAt = :now"]
        values: dict[str, Any] = {
            ":status": {"S": self.status}, ":filled": {"N": str(self.filled)},
            ":seq": {"N": str(self.seq)}, ":now": {"S": now},
            ":expected": {"N": str(self.expected_filled)},
            ":o1": {"S": "ACCEPTED"}, ":o2": {"S": "OPEN"}, ":o3": {"S": "PARTIALLY_FILLED"},
        }
        if self.open_sort and not self.closed:
            sets.append("openSort = :sort")
            values[":sort"] = {"S": self.open_sort}
        if self.cancel_reason:
            sets.append("cancelReason = :reason")
            values[":reason"] = {"S": self.cancel_reason}
        expression = "SET " + ", ".join(sets)
        if self.notional_delta:
            expression += " ADD filledNotionalTicks :notional"
            values[":notional"] = {"N": str(self.notional_delta)}
        if self.closed:
            expression += " REMOVE openSymbol, openSort"
        return {"Update": {
            "TableName": cfg.orders_table, "Key": order_key(self.order_id),
            "UpdateExpression": expression,
            # Still open and exactly as filled as we believe: a user cancel that committed first
            # wins cleanly, and no fill can ever push filledQty past what the engine saw.
            "ConditionExpression": "#st IN (:o1, :o2, :o3) AND filledQty = :expected",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": values,
        }}


@dataclass
class CommandWrites:
    puts: list[dict[str, Any]]  # trades
    updates: dict[str, OrderUpdate]
    end_seq: int
    sqs_seq: int
    events: list[dict[str, Any]] = field(default_factory=list)  # {seq, type, ts, payload}


@dataclass
class CommitPlan:
    """The writes of one batch, grouped per command so chunks split only at command boundaries:
    every committed chunk is a consistent prefix (its shard update names its last seq)."""

    cfg: Config
    symbol: str
    epoch: int
    start_seq: int
    now: str
    commands: list[CommandWrites] = field(default_factory=list)
    last_sqs_seq: int = 0

    def chunks(self) -> Iterator[list[dict[str, Any]]]:
        expected = self.start_seq
        budget = MAX_TRANSACTION_ITEMS - 1  # one slot for the shard update
        puts: list[dict[str, Any]] = []
        updates: dict[str, OrderUpdate] = {}
        events: list[dict[str, Any]] = []
        chunk_end, chunk_sqs = expected, 0

        def flush(sqs_seq: int) -> list[dict[str, Any]]:
            rendered = [u.render(self.cfg, self.now) for u in updates.values()]
            return [*puts, *self._pages(events), *rendered,
                    self._shard_update(expected, chunk_end, sqs_seq)]

        for command in self.commands:
            size = len(command.puts) + len(command.updates)
            if (puts or updates or events) and (
                    len(puts) + len(updates) + size
                    + event_pages.pages_needed(len(events) + len(command.events)) > budget):
                yield flush(chunk_sqs)
                expected, puts, updates, events = chunk_end, [], {}, []
            if size + event_pages.pages_needed(len(command.events)) > budget:
                # One command larger than a transaction (a taker sweeping dozens of makers) is
                # written in pieces; see docs/storage.md "known limits" for the crash window.
                items = [*command.puts, *self._pages(command.events),
                         *(u.render(self.cfg, self.now) for u in command.updates.values())]
                for start in range(0, len(items), budget):
                    piece = items[start:start + budget]
                    last = start + budget >= len(items)
                    new_last = command.end_seq if last else expected
                    yield [*piece, self._shard_update(expected, new_last,
                                                      command.sqs_seq if last else 0)]
                    expected = new_last
                chunk_end, chunk_sqs = command.end_seq, command.sqs_seq
                continue
            puts.extend(command.puts)
            events.extend(command.events)
            for order_id, update in command.updates.items():
                earlier = updates.get(order_id)
                updates[order_id] = earlier.merge(update) if earlier else update
            chunk_end, chunk_sqs = command.end_seq, command.sqs_seq
        final_sqs = max(chunk_sqs, self.last_sqs_seq)
        if puts or updates or events or final_sqs > 0:
            yield flush(final_sqs)

    def _pages(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return event_pages.page_puts(self.cfg.trades_table, self.symbol, events)

    def _shard_update(self, expected: int, new_last: int, sqs_seq: int) -> dict[str, Any]:
        values = {":epoch": {"N": str(self.epoch)}, ":expected": {"N": str(expected)},
                  ":last": {"N": str(new_last)}, ":now": {"S": self.now}}
        expression = "SET lastSeq = :last, updatedAt = :now"
        if sqs_seq:
            expression += ", lastSqsSeq = :sqs"
            values[":sqs"] = {"S": str(sqs_seq)}
        return {"Update": {
            "TableName": self.cfg.trades_table, "Key": shard_key(self.symbol),
            "UpdateExpression": expression,
            "ConditionExpression": "epoch = :epoch AND lastSeq = :expected",
            "ExpressionAttributeValues": values,
        }}
