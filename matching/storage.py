"""The only DynamoDB code of the matcher: shard leadership, the book rebuild, the order states a
batch needs and the fenced group commit — and the one writer of a shard's ledger position
(`advance_shard`), which ops' compensations use too.

Items are tulip.schema's; this module writes them as low-level DynamoDB JSON generated from the
schema's definitions (ItemCodec), because the commit is the hot path (docs/storage.md, "The
matcher's commit")."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from matching.fork import FORK_WINDOW_EVENTS, OrderMark, changed_orders, fork_point
from tulip import aws, event_pages
from tulip.config import Config
from tulip.epochs import Chain, EpochStart, canonical
from tulip.schema import (
    ACCEPTED,
    CANCELLED,
    OPEN_STATES,
    RESTING_SORT_PREFIX,
    TERM_EPOCHS,
    USER_CANCEL_REASON,
    EpochItem,
    EventPageItem,
    ItemCodec,
    MatcherItem,
    OrderItem,
    ShardItem,
    TradeItem,
    epoch_term,
    raw_key,
    trade_id,
)

log = logging.getLogger("matching.storage")

MAX_TRANSACTION_ITEMS = 100
MAX_REBUILD_PAGES = 10_000  # 10k pages x 1 MB: far past any book we simulate; bounds the loop

ORDER = ItemCodec(OrderItem)
SHARD = ItemCodec(ShardItem)
TRADE = ItemCodec(TradeItem)
MEMBER = ItemCodec(MatcherItem)
EPOCH = ItemCodec(EpochItem)
_O = ORDER.names  # python name -> DynamoDB attribute name, for hand-written expressions
_S = SHARD.names

# What the matcher reads of an order it is about to match: status is the dedupe of record
# (docs/rules.md, idempotency), the rest builds the PlaceOrder. Timestamps, region and index keys
# are not needed to match, and every attribute read is one more to move and parse per order.
MATCH_FIELDS = ("order_id", "client_id", "symbol", "side", "qty", "price_ticks", "time_in_force",
                "post_only", "self_trade_prevention", "status", "filled_qty")
_MATCH_NAMES = {f"#m{i}": _O[name] for i, name in enumerate(MATCH_FIELDS)}
_MATCH_PROJECTION = ", ".join(_MATCH_NAMES)
# What a rebuild reads again of the orders the newest events name (MatcherStorage.resting_orders):
# the matching facts, and where the order rests and which commit last wrote it.
_REST_FIELDS = (*MATCH_FIELDS, "open_symbol", "open_sort", "epoch", "seq")
_REST_NAMES = {f"#r{i}": _O[name] for i, name in enumerate(_REST_FIELDS)}
_REST_PROJECTION = ", ".join(_REST_NAMES)
# How far back a rebuild distrusts the openOrders index: the orders named by this many of the
# newest events are read again from the table. A GSI trails its table by well under a second on
# AWS; this is about a second of a busy shard's events, and all of a quiet one's. (1,000 made
# every takeover of the region chaos run at size read ~1,000 events and their orders again, 60
# kills and 3 failovers: the stack fell minutes behind.)
REBUILD_RECHECK_EVENTS = 200
# What a failover's fork check reads of an order (matching/fork.py): how far along it is, and
# whether a commit closed it (a closed order still on the index was closed by its owner only).
_MARK_NAMES = {f"#k{i}": _O[name]
               for i, name in enumerate(("order_id", "seq", "status", "open_sort"))}
_MARK_PROJECTION = ", ".join(_MARK_NAMES)
# The open states as expression values, for every condition that says "still open".
_OPEN_VALUES = {f":o{i}": ORDER.value("status", state) for i, state in enumerate(OPEN_STATES)}
_STILL_OPEN = f"#st IN ({', '.join(_OPEN_VALUES)})"
# A user cancel being sequenced: CANCELLED by POST /cancel, or, in a region whose replica took a
# later open version of the order from another region (last writer wins overtook the cancel), still
# open: the cancel was acknowledged, so it is carried out (docs/architecture.md, "Regions").
_USER_CANCELLED = f"#st IN (:cancelled, {', '.join(_OPEN_VALUES)})"


def _rests(order: OrderItem, symbol: str, chain: Chain) -> bool:
    """On `symbol`'s book as the canonical history left it: resting (or cancelled by its owner
    and not yet sequenced), last written on the chain."""
    return (order.open_symbol == symbol and (order.open_sort or "").startswith(RESTING_SORT_PREFIX)
            and order.status in (*OPEN_STATES, CANCELLED)
            and (order.epoch is None or chain.covers(order.epoch, order.seq or 0)))


def named_orders(event: Mapping[str, Any]) -> list[str]:
    """Every order an event's payload names: its order, a trade's two legs, a reconciliation's
    compensating cancels (SimFill's simulated counterparty has no item: read, not found)."""
    payload = event.get("payload") or {}
    named = [str(payload[k]) for k in ("orderId", "makerOrderId", "takerOrderId") if payload.get(k)]
    return named + [str(i) for i in payload.get("cancels") or ()]


def order_key(order_id: str) -> dict[str, Any]:
    return raw_key(OrderItem.key(order_id))


def shard_key(symbol: str) -> dict[str, Any]:
    return raw_key(ShardItem.key(symbol))


class MatcherStorage:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.ddb = aws.client("dynamodb", cfg, profile="matcher")

    # ------------------------------------------------------------------ leases
    def take_shard(self, symbol: str, holder: str, observed: ShardItem, term: int,
                   expires_ms: int, now: str, fork_seq: int | None = None,
                   same_queue: bool = True) -> ShardItem | None:
        """Take the shard: a new epoch fences every earlier holder (docs/architecture.md, "Shard
        leases"). ONE transaction: the shard update, conditioned on the epoch the caller
        observed (of two processes racing for the same shard exactly one wins; None for the
        loser), and the new epoch's record (where it starts, what it continues: the shard's
        canonical history across regions, tulip/epochs.py). `fork_seq` (<= the observed
        lastSeq) is where the new epoch continues after a failover found torn commits.
        `same_queue=False` (the previous epoch consumed another region's queue): lastSqsSeq is
        reset, since SQS sequence numbers are per queue and another queue's say nothing here."""
        epoch = next_epoch(observed.epoch, term)
        if epoch_term(observed.epoch or 0) != term:
            epoch = max(epoch, self._newest_epoch_of_term(symbol, term) + 1)
        observed_last = observed.last_seq or 0
        start_seq = observed_last if fork_seq is None else fork_seq
        assert 0 <= start_seq <= observed_last, (start_seq, observed_last)
        names = {"#ep": _S["epoch"], "#ls": _S["last_seq"], "#lq": _S["last_sqs_seq"],
                 "#ho": _S["holder"], "#le": _S["lease_expires_ms"], "#ta": _S["taken_at"],
                 "#up": _S["updated_at"], "#sy": _S["symbol"]}
        values = {":next": SHARD.value("epoch", epoch),
                  ":zero": SHARD.value("last_seq", 0), ":zeros": SHARD.value("last_sqs_seq", "0"),
                  ":holder": SHARD.value("holder", holder),
                  ":expires": SHARD.value("lease_expires_ms", expires_ms),
                  ":now": SHARD.value("taken_at", now), ":symbol": SHARD.value("symbol", symbol)}
        last_seq = "if_not_exists(#ls, :zero)"
        last_sqs_seq = "if_not_exists(#lq, :zeros)" if same_queue else ":zeros"
        if observed.epoch:
            condition = "#ep = :observed AND #ls = :observedlast"
            values[":observed"] = SHARD.value("epoch", observed.epoch)
            values[":observedlast"] = SHARD.value("last_seq", observed_last)
            del values[":zero"]  # not in this expression; DynamoDB refuses unused values
            values[":fork"] = SHARD.value("last_seq", start_seq)
            last_seq = ":fork"
        else:  # never led: the item may not exist yet, or exist without an epoch (ops created it)
            condition = "attribute_not_exists(#ep) OR #ep = :zeroepoch"
            values[":zeroepoch"] = SHARD.value("epoch", 0)
        record = EPOCH.item(
            pk=EpochItem.key(symbol), sk=EpochItem.sort_key(epoch), epoch=epoch,
            parent=observed.epoch or 0, start_seq=start_seq, region=self.cfg.aws_region,
            holder=holder, taken_at=now)
        try:
            transact(self.ddb, [
                {"Update": {
                    "TableName": self.cfg.trades_table, "Key": shard_key(symbol),
                    "UpdateExpression": f"SET #ep = :next, #ls = {last_seq}, "
                                        f"#lq = {last_sqs_seq}, #ho = :holder, "
                                        "#le = :expires, #ta = :now, #up = :now, #sy = :symbol",
                    "ConditionExpression": condition, "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values}},
                {"Put": {"TableName": self.cfg.trades_table, "Item": record,
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
        except CommitRejected:
            return None
        shard = self.read_shard(symbol)
        if shard.epoch != epoch or shard.holder != holder:
            # Taken and at once overwritten: another region's write of this item, under a newer
            # leadership term, replicated in between (last writer wins by term). Its epoch is
            # not ours to commit under (simulation seed 1497: two regions then stored one seq).
            log.warning("a shard taken here was overwritten at once", extra={
                "symbol": symbol, "epoch": epoch, "found": shard.epoch, "holder": shard.holder})
            return None
        return shard

    def _newest_epoch_of_term(self, symbol: str, term: int) -> int:
        """The newest epoch this term has already recorded for the shard (0: none). A take
        across terms normally starts the term's first epoch; but where the shard item went
        back to an older term's epoch after this term's takes (replication, last writer wins),
        that epoch's record exists, and a take starting it again would be refused by its own
        record's condition at every attempt: the take continues after the newest instead."""
        page = self.ddb.query(
            TableName=self.cfg.trades_table, ConsistentRead=True, ScanIndexForward=False,
            Limit=1, KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": EpochItem.key(symbol)},
                ":low": {"S": EpochItem.sort_key(term * TERM_EPOCHS)},
                ":high": {"S": EpochItem.sort_key((term + 1) * TERM_EPOCHS - 1)}})
        items = page.get("Items", [])
        return EpochItem.from_raw_data(items[0]).epoch if items else 0

    def renew_lease(self, symbol: str, holder: str, epoch: int, expires_ms: int) -> bool:
        """Extend the lease; False when the shard has been taken (the epoch moved)."""
        return self._lease_update(symbol, holder, epoch, "SET #le = :expires",
                                  {":expires": SHARD.value("lease_expires_ms", expires_ms)})

    def release_shard(self, symbol: str, holder: str, epoch: int) -> bool:
        """Give the shard back on a clean stop or a rebalance: free at once, no expiry to wait
        for. The epoch is left as it is; the next taker bumps it."""
        return self._lease_update(symbol, holder, epoch, "REMOVE #ho, #le", {})

    def _lease_update(self, symbol: str, holder: str, epoch: int, expression: str,
                      values: dict[str, Any]) -> bool:
        try:
            self.ddb.update_item(
                TableName=self.cfg.trades_table, Key=shard_key(symbol),
                UpdateExpression=expression, ConditionExpression="#ep = :epoch AND #ho = :holder",
                ExpressionAttributeNames={"#ep": _S["epoch"], "#ho": _S["holder"],
                                          "#le": _S["lease_expires_ms"]},
                ExpressionAttributeValues={**values, ":epoch": SHARD.value("epoch", epoch),
                                           ":holder": SHARD.value("holder", holder)})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def read_shard(self, symbol: str) -> ShardItem:
        """The shard item, strongly consistent; a shard never led reads as epoch 0, lastSeq 0."""
        item = self.ddb.get_item(TableName=self.cfg.trades_table, Key=shard_key(symbol),
                                 ConsistentRead=True).get("Item")
        return ShardItem.from_raw_data(item or shard_key(symbol))

    def read_shards(self, symbols: Sequence[str]) -> dict[str, ShardItem]:
        """Every given shard (strongly consistent; absent ones read as never led)."""
        found = {symbol: ShardItem.from_raw_data(shard_key(symbol)) for symbol in symbols}
        for start in range(0, len(symbols), 100):
            request: dict[str, Any] = {self.cfg.trades_table: {
                "Keys": [shard_key(s) for s in symbols[start:start + 100]], "ConsistentRead": True}}
            for _ in range(10):  # unprocessed keys are retried a bounded number of times
                response = self.ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.cfg.trades_table, []):
                    shard = ShardItem.from_raw_data(item)
                    found[shard.pk.removeprefix(ShardItem.PREFIX)] = shard
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    # ------------------------------------------------------------------ membership
    def heartbeat(self, member: MatcherItem) -> None:
        """Announce this process as a live matcher until `member.expires_ms`."""
        self.ddb.put_item(TableName=self.cfg.trades_table, Item=MEMBER.item(
            pk=MatcherItem.PARTITION, sk=member.sk, holder=member.holder, region=member.region,
            expires_ms=member.expires_ms, started_at=member.started_at, shards=member.shards))

    def leave(self, holder: str) -> None:
        self.ddb.delete_item(TableName=self.cfg.trades_table,
                             Key=raw_key(MatcherItem.PARTITION, holder))

    def members(self) -> list[MatcherItem]:
        """Every announced matcher process, expired ones included (the caller judges)."""
        page = self.ddb.query(
            TableName=self.cfg.trades_table, ConsistentRead=True, Limit=1000,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": MatcherItem.PARTITION}})
        return [MatcherItem.from_raw_data(item) for item in page.get("Items", [])]

    # ------------------------------------------------------------------ reads
    def resting_orders(self, symbol: str, last_seq: int) -> list[OrderItem]:
        """Open orders on the book at `last_seq`, in priority order ("B#<seq>"), never a scan.

        The openOrders index lists them, but DynamoDB updates a GSI asynchronously: an order the
        newest commits opened may be missing from it, one they filled or closed may still be
        there, or with an older filledQty. So the orders the newest REBUILD_RECHECK_EVENTS events
        name are read again from the table, strongly consistent, and take the index's word's
        place (docs/storage.md, "The matcher's rebuild"). An order whose last change came from a
        commit off the canonical chain (a deposed leader's, replicated after the fork:
        matching/fork.py) is left out: the history this book continues never opened or filled
        it that way; reconciliation compensates it. A CANCELLED order still on the index is a user
        cancel the book has not sequenced yet (orders/storage.py): kept, for the matcher to
        sequence."""
        chain = self.chain(symbol)
        found = {o.order_id: o for o in self._indexed(symbol) if _rests(o, symbol, chain)}
        floor = max(0, last_seq - REBUILD_RECHECK_EVENTS)
        recent = sorted({order_id for event in self._canonical_events(symbol, floor, last_seq, chain)
                         for order_id in named_orders(event)})
        fresh = self._get_orders(recent, _REST_PROJECTION, _REST_NAMES)
        for order_id in recent:
            order = fresh.get(order_id)
            if order is not None and _rests(order, symbol, chain):
                found[order_id] = order
            else:
                found.pop(order_id, None)
        return sorted(found.values(), key=lambda o: o.open_sort or "")

    def _indexed(self, symbol: str) -> Iterator[OrderItem]:
        """What the openOrders index lists as resting on `symbol`'s book (eventually consistent)."""
        kwargs: dict[str, Any] = {
            "TableName": self.cfg.orders_table, "IndexName": OrderItem.open_orders.Meta.index_name,
            "KeyConditionExpression": "#sy = :s AND begins_with(#so, :b)",
            "ExpressionAttributeNames": {"#sy": _O["open_symbol"], "#so": _O["open_sort"]},
            "ExpressionAttributeValues": {":s": ORDER.value("open_symbol", symbol),
                                          ":b": ORDER.value("open_sort", RESTING_SORT_PREFIX)},
        }
        for _ in range(MAX_REBUILD_PAGES):
            page = self.ddb.query(**kwargs)
            yield from (OrderItem.from_raw_data(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        raise RuntimeError("open-orders rebuild exceeded its page bound")

    def orders(self, order_ids: Sequence[str]) -> dict[str, OrderItem]:
        """What matching needs of the given orders (MATCH_FIELDS), strongly consistent
        (BatchGetItem, <= 100 keys); the other attributes of the returned items are unset."""
        return self._get_orders(order_ids, _MATCH_PROJECTION, _MATCH_NAMES)

    def _get_orders(self, order_ids: Sequence[str], projection: str,
                    names: dict[str, str]) -> dict[str, OrderItem]:
        found: dict[str, OrderItem] = {}
        unique = list(dict.fromkeys(order_ids))
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {self.cfg.orders_table: {
                "Keys": [order_key(i) for i in unique[start:start + 100]], "ConsistentRead": True,
                "ProjectionExpression": projection, "ExpressionAttributeNames": names}}
            for _ in range(10):  # unprocessed keys are retried a bounded number of times
                response = self.ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.cfg.orders_table, []):
                    order = OrderItem.from_raw_data(item)
                    found[order.order_id] = order
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    # ------------------------------------------------------------------ failover
    def fork_seq(self, symbol: str, observed: ShardItem, term: int) -> int:
        """Where a take continues the shard's history (matching/fork.py): its lastSeq, unless the
        take crosses leaderships and this replica holds the deposed leader's last commits torn."""
        last = observed.last_seq or 0
        if not observed.epoch or epoch_term(observed.epoch) == term or last == 0:
            return last  # the same leadership: this region wrote every commit itself, atomically
        floor = max(0, last - FORK_WINDOW_EVENTS)
        events = self._canonical_events(symbol, floor, last)
        ids = sorted({order_id for event in events for order_id in changed_orders(event)})
        marks = {order_id: OrderMark(order.seq or 0, order.status, bool(order.open_sort))
                 for order_id, order in self._get_orders(ids, _MARK_PROJECTION, _MARK_NAMES).items()}
        fork = fork_point(last, floor, events, marks)
        if fork < last:
            log.warning("torn commits from the deposed leader: the new epoch forks before them",
                        extra={"symbol": symbol, "lastSeq": last, "fork": fork})
        return fork

    def same_queue(self, symbol: str, observed: ShardItem, term: int) -> bool:
        """Whether the shard's last epoch consumed this region's queue: always within one
        leadership term (one region); across terms, when that epoch's record names this region."""
        if not observed.epoch or epoch_term(observed.epoch) == term:
            return True
        item = self.ddb.get_item(
            TableName=self.cfg.trades_table, ConsistentRead=True,
            Key={"pk": {"S": EpochItem.key(symbol)}, "sk": {"S": EpochItem.sort_key(observed.epoch)}},
        ).get("Item")
        return item is not None and EpochItem.from_raw_data(item).region == self.cfg.aws_region

    def chain(self, symbol: str) -> Chain:
        """The shard's canonical chain of epochs (tulip/epochs.py), read now."""
        kwargs: dict[str, Any] = {
            "TableName": self.cfg.trades_table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": EpochItem.key(symbol)}}}
        starts: list[EpochStart] = []
        for _ in range(MAX_REBUILD_PAGES):
            page = self.ddb.query(**kwargs)
            for item in page.get("Items", []):
                record = EpochItem.from_raw_data(item)
                starts.append(EpochStart(record.epoch, record.parent, record.start_seq))
            if "LastEvaluatedKey" not in page:
                return canonical(starts)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        raise RuntimeError("epoch records exceeded their page bound")

    def _canonical_events(self, symbol: str, floor: int, last: int,
                          chain: Chain | None = None) -> list[dict[str, Any]]:
        """The events with floor < seq <= last on the shard's canonical chain, as replicated."""
        chain = chain if chain is not None else self.chain(symbol)
        kwargs: dict[str, Any] = {
            "TableName": self.cfg.trades_table, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": EventPageItem.key(symbol)},
                ":low": {"S": EventPageItem.first_key_of(floor + 1)},
                ":high": {"S": EventPageItem.last_key_of(last)}}}
        events: list[dict[str, Any]] = []
        for _ in range(MAX_REBUILD_PAGES):
            page = self.ddb.query(**kwargs)
            for item in page.get("Items", []):
                record = EventPageItem.from_raw_data(item)
                if chain.covers(record.epoch, record.last_seq):
                    events.extend(e for e in event_pages.decode(record) if floor < e["seq"] <= last)
            if "LastEvaluatedKey" not in page:
                return events
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        raise RuntimeError("fork window read exceeded its page bound")

    # ------------------------------------------------------------------ commit
    def commit(self, plan: CommitPlan) -> None:
        """Write a batch: each chunk is ONE TransactWriteItems ending with the fenced shard update.
        Raises CommitRejected with the reasons when DynamoDB cancels a chunk."""
        for chunk in plan.chunks():
            transact(self.ddb, chunk)


def transact(ddb: Any, items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems whose last item is `advance_shard`'s; CommitRejected when DynamoDB
    cancels it (the reasons say which item's condition failed)."""
    try:
        ddb.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        raise CommitRejected(reasons, items) from None


class CommitRejected(Exception):
    def __init__(self, reasons: list[str], items: list[dict[str, Any]]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons
        self.items = items

    @property
    def shard_conflict(self) -> bool:
        """The fenced shard update (always the last item) failed: epoch or lastSeq moved."""
        return bool(self.reasons) and self.reasons[-1] == "ConditionalCheckFailed"


def advance_shard(table: str, symbol: str, epoch: int | None, expected_seq: int, new_last: int,
                  now: str, sqs_seq: int = 0) -> dict[str, Any]:
    """THE write of a shard's ledger position, conditioned on the epoch and lastSeq the writer
    read (fencing, docs/rules.md): every commit of events to a shard ends with it, so two writers
    can never both append after the same seq, and a deposed matcher cannot append at all.

    `epoch=None`: no matcher ever led the shard (ops compensating on an empty ledger); the item is
    created at epoch 0, exactly where `acquire_shard`'s if_not_exists starts, so a later matcher
    continues after this seq."""
    names = {"#ls": _S["last_seq"], "#up": _S["updated_at"]}
    values = {":last": SHARD.value("last_seq", new_last), ":now": SHARD.value("updated_at", now)}
    expression = "SET #ls = :last, #up = :now"
    if sqs_seq:
        expression += ", #lq = :sqs"
        names["#lq"] = _S["last_sqs_seq"]
        values[":sqs"] = SHARD.value("last_sqs_seq", str(sqs_seq))
    if epoch is None:
        expression += ", #ep = :epoch, #sy = :symbol"
        names.update({"#ep": _S["epoch"], "#sy": _S["symbol"]})
        values.update({":epoch": SHARD.value("epoch", 0), ":symbol": SHARD.value("symbol", symbol)})
        condition = "attribute_not_exists(pk)"
    else:
        names["#ep"] = _S["epoch"]
        values.update({":epoch": SHARD.value("epoch", epoch),
                       ":expected": SHARD.value("last_seq", expected_seq)})
        condition = "#ep = :epoch AND #ls = :expected"
    return {"Update": {
        "TableName": table, "Key": shard_key(symbol), "UpdateExpression": expression,
        "ConditionExpression": condition, "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }}


def cancel_order_update(table: str, order_id: str, expected_status: str, expected_filled: int,
                        seq: int, epoch: int, reason: str, now: str) -> dict[str, Any]:
    """Open -> CANCELLED for a compensation (ops), only if the order is exactly as observed: a
    fill or user cancel that landed since wins, and the writer re-reads instead of cancelling
    something it did not judge."""
    return {"Update": {
        "TableName": table, "Key": order_key(order_id),
        "UpdateExpression": "SET #st = :cancelled, #cr = :reason, #sq = :seq, #ep = :epoch, "
                            "#up = :now REMOVE #os, #so",
        "ConditionExpression": f"#st = :expected AND #fq = :filled AND {_STILL_OPEN}",
        "ExpressionAttributeNames": {"#st": _O["status"], "#cr": _O["cancel_reason"],
                                     "#sq": _O["seq"], "#ep": _O["epoch"], "#up": _O["updated_at"],
                                     "#os": _O["open_symbol"], "#so": _O["open_sort"],
                                     "#fq": _O["filled_qty"]},
        "ExpressionAttributeValues": {
            ":cancelled": ORDER.value("status", CANCELLED), ":reason": ORDER.value(
                "cancel_reason", reason), ":seq": ORDER.value("seq", seq),
            ":epoch": ORDER.value("epoch", epoch), ":now": ORDER.value("updated_at", now),
            ":expected": ORDER.value("status", expected_status),
            ":filled": ORDER.value("filled_qty", expected_filled), **_OPEN_VALUES},
    }}


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
    # The user's cancel, sequenced: POST /cancel already made the order CANCELLED and left it on
    # the openOrders index (orders/storage.py), so this write expects CANCELLED (or still open:
    # _USER_CANCELLED) and records the reason only where none is.
    user_cancelled: bool = False
    # A decision of the same transaction rested on the order (CommitPlan._checks): it must still
    # be open, even where this is its user cancel (that cancel is then sequenced first, after a
    # rebuild, and the decision made again without the order).
    open_required: bool = False

    def merge(self, later: OrderUpdate) -> OrderUpdate:
        # The condition is the first update's: it describes the item before the whole commit.
        return OrderUpdate(
            self.order_id, self.expected_filled, later.filled,
            self.notional_delta + later.notional_delta, later.status, later.seq,
            later.open_sort or (None if later.closed else self.open_sort), later.closed,
            later.cancel_reason or self.cancel_reason, self.user_cancelled,
            self.open_required or later.open_required)

    @property
    def _status_condition(self) -> str:
        return _USER_CANCELLED if self.user_cancelled and not self.open_required else _STILL_OPEN

    def render(self, cfg: Config, now: str, epoch: int) -> dict[str, Any]:
        sets = ["#st = :status", "#fq = :filled", "#sq = :seq", "#ep = :epoch", "#up = :now"]
        names = {"#st": _O["status"], "#fq": _O["filled_qty"], "#sq": _O["seq"],
                 "#ep": _O["epoch"], "#up": _O["updated_at"]}
        values: dict[str, Any] = {
            ":status": ORDER.value("status", self.status),
            ":filled": ORDER.value("filled_qty", self.filled), ":seq": ORDER.value("seq", self.seq),
            ":epoch": ORDER.value("epoch", epoch), ":now": ORDER.value("updated_at", now),
            ":expected": ORDER.value("filled_qty", self.expected_filled),
        }
        values.update(_OPEN_VALUES)
        if self.user_cancelled:
            values[":cancelled"] = ORDER.value("status", CANCELLED)
        if self.user_cancelled and not self.cancel_reason:
            values[":user"] = ORDER.value("cancel_reason", USER_CANCEL_REASON)
            sets.append("#cr = if_not_exists(#cr, :user)")
            names["#cr"] = _O["cancel_reason"]
        if self.open_sort and not self.closed:
            sets.append("#so = :sort")
            names["#so"] = _O["open_sort"]
            values[":sort"] = ORDER.value("open_sort", self.open_sort)
        if self.cancel_reason:
            sets.append("#cr = :reason")
            names["#cr"] = _O["cancel_reason"]
            values[":reason"] = ORDER.value("cancel_reason", self.cancel_reason)
        expression = "SET " + ", ".join(sets)
        if self.notional_delta:
            expression += " ADD #fn :notional"
            names["#fn"] = _O["filled_notional"]
            values[":notional"] = ORDER.value("filled_notional", self.notional_delta)
        if self.closed:
            expression += " REMOVE #os, #so"
            names.update({"#os": _O["open_symbol"], "#so": _O["open_sort"]})
        return {"Update": {
            "TableName": cfg.orders_table, "Key": order_key(self.order_id),
            "UpdateExpression": expression,
            # Still open and exactly as filled as we believe: a user cancel that committed first
            # wins cleanly, and no fill can ever push filledQty past what the engine saw.
            "ConditionExpression": f"{self._status_condition} AND #fq = :expected",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }}


def trade_put(cfg: Config, symbol: str, epoch: int, seq: int, price_ticks: int, qty: int,
              taker_side: str, maker: tuple[str, str], taker: tuple[str, str],
              now: str) -> dict[str, Any]:
    """A trade's Put (maker/taker = (orderId, clientId)); written once: its id is its epoch and
    seq."""
    tid = trade_id(symbol, epoch, seq)
    buy, sell = (maker, taker) if taker_side == "SELL" else (taker, maker)
    item = TRADE.item(
        pk=TradeItem.key(tid), sk=TradeItem.key(tid), trade_id=tid, symbol=symbol,
        trade_symbol=symbol, seq=seq, price_ticks=price_ticks, qty=qty, taker_side=taker_side,
        buy_order_id=buy[0], sell_order_id=sell[0], buy_client_id=buy[1],
        sell_client_id=sell[1], maker_order_id=maker[0], taker_order_id=taker[0], ts=now,
        region=cfg.aws_region, fill_az=cfg.availability_zone, epoch=epoch)
    return {"Put": {"TableName": cfg.trades_table, "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)"}}


def next_epoch(observed: int, term: int) -> int:
    """The epoch a take starts: the next of the observed one within the same leadership term,
    the term's first otherwise (tulip.schema.TERM_EPOCHS), so epochs taken by two regions during
    a split never collide and a newer term's are always larger."""
    assert epoch_term(observed) <= term, "a shard of a newer leadership is not ours to take"
    if epoch_term(observed) == term:
        return observed + 1
    return term * TERM_EPOCHS + 1


def is_matchable(order: OrderItem | None, symbol: str) -> bool:
    """An accepted order the shard has not matched yet: the dedupe of record for redeliveries."""
    return order is not None and order.status == ACCEPTED and order.symbol == symbol


def still_open_check(cfg: Config, order_id: str) -> dict[str, Any]:
    """A resting order a decision rested on without writing it (ShardMatcher._witnesses): the
    commit holds only if it is still open, so a user cancel committed meanwhile refuses it."""
    return {"ConditionCheck": {
        "TableName": cfg.orders_table, "Key": order_key(order_id),
        "ConditionExpression": _STILL_OPEN, "ExpressionAttributeNames": {"#st": _O["status"]},
        "ExpressionAttributeValues": dict(_OPEN_VALUES)}}


@dataclass
class CommandWrites:
    puts: list[dict[str, Any]]  # trades
    updates: dict[str, OrderUpdate]
    end_seq: int
    sqs_seq: int
    events: list[dict[str, Any]] = field(default_factory=list)  # {seq, type, ts, payload}
    checks: list[str] = field(default_factory=list)  # order ids: still_open_check


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
        checks: dict[str, None] = {}  # ordered, once each
        events: list[dict[str, Any]] = []
        chunk_end, chunk_sqs = expected, 0

        def flush(sqs_seq: int) -> list[dict[str, Any]]:
            return [*puts, *self._pages(events), *self._checked(updates, checks),
                    self._advance(expected, chunk_end, sqs_seq)]

        for command in self.commands:
            size = len(command.puts) + len(command.updates) + len(command.checks)
            if (puts or updates or events) and (
                    len(puts) + len(updates) + len(checks) + size
                    + event_pages.pages_needed(len(events) + len(command.events)) > budget):
                yield flush(chunk_sqs)
                expected, puts, updates, checks, events = chunk_end, [], {}, {}, []
            if size + event_pages.pages_needed(len(command.events)) > budget:
                yield from self._oversized(command, expected, budget)
                expected = chunk_end = command.end_seq
                chunk_sqs = command.sqs_seq
                continue
            puts.extend(command.puts)
            events.extend(command.events)
            for order_id, update in command.updates.items():
                earlier = updates.get(order_id)
                updates[order_id] = earlier.merge(update) if earlier else update
            checks.update(dict.fromkeys(command.checks))
            chunk_end, chunk_sqs = command.end_seq, command.sqs_seq
        final_sqs = max(chunk_sqs, self.last_sqs_seq)
        if puts or updates or events or final_sqs > 0:
            yield flush(final_sqs)

    def _checked(self, updates: Mapping[str, OrderUpdate],
                 checks: Iterable[str]) -> list[dict[str, Any]]:
        """The order updates, then a still-open check per witness. DynamoDB refuses two
        operations on one item in one transaction: a witness this transaction also updates is
        checked by that update's condition, made to require it open."""
        witnesses = dict.fromkeys(checks)
        rendered = [(replace(u, open_required=True) if u.order_id in witnesses else u)
                    .render(self.cfg, self.now, self.epoch) for u in updates.values()]
        return rendered + [still_open_check(self.cfg, i) for i in witnesses if i not in updates]

    def _oversized(self, command: CommandWrites, expected: int,
                   budget: int) -> Iterator[list[dict[str, Any]]]:
        """One command larger than a transaction (a taker sweeping dozens of makers) is written in
        pieces; see docs/storage.md "known limits" for the crash window."""
        items = [*command.puts, *self._pages(command.events),
                 *self._checked(command.updates, command.checks)]
        for start in range(0, len(items), budget):
            last = start + budget >= len(items)
            new_last = command.end_seq if last else expected
            yield [*items[start:start + budget],
                   self._advance(expected, new_last, command.sqs_seq if last else 0)]
            expected = new_last

    def _pages(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return event_pages.page_puts(self.cfg.trades_table, self.symbol, self.epoch, events)

    def _advance(self, expected: int, new_last: int, sqs_seq: int) -> dict[str, Any]:
        return advance_shard(self.cfg.trades_table, self.symbol, self.epoch, expected, new_last,
                             self.now, sqs_seq)
