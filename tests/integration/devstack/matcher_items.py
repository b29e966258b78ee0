"""Realistic matcher transactions for the local-stack tests and ``bench.devstack``.

Order Updates, event pages and the fenced shard Update are rendered by the product's own code
(``matching.storage.OrderUpdate.render`` / ``CommitPlan.chunks`` / ``tulip.event_pages``:
merged updates, the ``#st IN (:o0, :o1, :o2) AND #fq = :expected`` condition, ``ADD
filledNotionalTicks``, ``REMOVE openSymbol, openSort``, one page Put per chunk, ``epoch = :epoch
AND lastSeq = :expected``) and trade Puts (``matching.storage.trade_put``). Tables have the
schema's shape (``tulip.schema.create_table_request``: pk/sk, 2-3 GSIs with ALL projection,
Streams NEW_AND_OLD_IMAGES).

The flow alternates a resting GTC sell (OrderOpened: an event + an order Update) with a crossing
IOC buy that fills it (TradeExecuted: an event + a trade Put + maker and taker Updates), as in the
pipeline benchmark: ~1.5 items per message (one event page per transaction).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from matching.storage import (
    ORDER,
    CommandWrites,
    CommitPlan,
    OrderUpdate,
    order_key,
    shard_key,
    trade_put,
)
from tulip import schema
from tulip.schema import trade_id

NOW = "2026-11-26T10:00:00.000Z"


def create_matcher_tables(ddb: Any, tag: str | None = None) -> tuple[str, str]:
    """The orders and trades tables, shaped as the schema defines them (``tulip.schema``)."""
    tag = tag or uuid.uuid4().hex[:8]
    names = (f"orders-{tag}", f"trades-{tag}")
    for name, spec in zip(names, schema.TABLES, strict=True):
        ddb.create_table(**schema.create_table_request(spec, name))
    return names


@dataclass
class MatcherScenario:
    """One symbol's shard: orders accepted into the orders table, then matched in batches."""

    ddb: Any
    orders_table: str
    trades_table: str
    symbol: str = "TLP"
    epoch: int = 1
    last_seq: int = 0
    _count: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _resting: list[tuple[str, str, int]] = field(default_factory=list)  # sells on the book

    def __post_init__(self) -> None:
        self.cfg: Any = SimpleNamespace(orders_table=self.orders_table,
                                        trades_table=self.trades_table, aws_region="us-east-1",
                                        availability_zone=None)
        self._seq = 0
        self.ddb.put_item(TableName=self.trades_table, Item={
            **shard_key(self.symbol), "epoch": {"N": str(self.epoch)}, "lastSeq": {"N": "0"},
            "lastSqsSeq": {"S": "0"}, "leader": {"S": "bench"}, "updatedAt": {"S": NOW}})

    def accept(self, messages: int) -> None:
        """Order entry: ``messages`` ACCEPTED orders (alternating resting sell, crossing IOC buy)."""
        items = []
        for _ in range(messages):
            selling = self._count % 2 == 0
            self._count += 1
            order_id = f"{self.symbol}-{self._count:08d}"  # deterministic: servers compare equal
            side, tif, price = (("SELL", "GTC", 10_000 + self._count % 7) if selling
                                else ("BUY", "IOC", 10_100))
            client = f"client-{self._count % 4 + (0 if selling else 4)}"
            item = {**order_key(order_id), **ORDER.item(
                order_id=order_id, client_id=client, idempotency_key=f"{self._count:064x}",
                symbol=self.symbol, side=side, qty=1, price_ticks=price, time_in_force=tif,
                post_only=False, status="ACCEPTED", filled_qty=0, filled_notional=0,
                created_at=NOW, accepted_at=NOW, updated_at=NOW, region="us-east-1",
                open_symbol=self.symbol, open_sort=schema.accepted_sort_key(NOW, order_id))}
            self._pending.append(item)
            items.append(item)
        for start in range(0, len(items), 25):
            self.ddb.batch_write_item(RequestItems={self.orders_table: [
                {"PutRequest": {"Item": item}} for item in items[start:start + 25]]})

    @staticmethod
    def _event(seq: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"seq": seq, "type": kind, "ts": NOW, "payload": payload}

    def _command(self, order: dict[str, Any]) -> CommandWrites:
        """What ShardMatcher._writes produces for one PlaceOrder (qty 1)."""
        order_id, client = order["orderId"]["S"], order["clientId"]["S"]
        price = int(order["priceTicks"]["N"])
        self._seq += 1
        seq = self._seq
        l2 = {"bids": [], "asks": [[price / 100, 1, 1]]}
        if order["side"]["S"] == "SELL" or not self._resting:
            self._resting.append((order_id, client, price))
            payload = {"orderId": order_id, "clientId": client, "side": order["side"]["S"],
                       "price": f"{price / 100:.2f}", "qty": 1, "remaining": 1, "filled": 0, "l2": l2}
            return CommandWrites([], {order_id: OrderUpdate(
                order_id, 0, 0, 0, "OPEN", seq, open_sort=schema.resting_sort_key(seq))}, seq, 0,
                [self._event(seq, "OrderOpened", payload)])
        maker_id, maker_client, maker_price = self._resting.pop(0)
        payload = {"tradeId": trade_id(self.symbol, self.epoch, seq),
                   "price": f"{maker_price / 100:.2f}", "qty": 1,
                   "takerSide": "BUY", "makerOrderId": maker_id, "makerClientId": maker_client,
                   "makerRemaining": 0, "makerFilled": 1, "takerOrderId": order_id,
                   "takerClientId": client, "takerRemaining": 0, "takerFilled": 1,
                   "buyOrderId": order_id, "sellOrderId": maker_id, "l2": l2}
        puts = [trade_put(self.cfg, self.symbol, self.epoch, seq, maker_price, 1, "BUY",
                          (maker_id, maker_client), (order_id, client), NOW)]
        updates = {oid: OrderUpdate(oid, 0, 1, maker_price, "FILLED", seq, closed=True)
                   for oid in (maker_id, order_id)}
        return CommandWrites(puts, updates, seq, 0, [self._event(seq, "TradeExecuted", payload)])

    def transaction(self, items: int) -> list[dict[str, Any]]:
        """The matcher's TransactWriteItems for the next batch of >= ``items`` items (whole
        commands; shard Update last). Accepts its orders first; call ``committed()`` after it
        succeeded, ``rolled_back()`` after it was cancelled."""
        plan = CommitPlan(self.cfg, self.symbol, self.epoch, self.last_seq, NOW)
        self._saved = (self._seq, list(self._resting))
        chunk: list[dict[str, Any]] = []
        while len(chunk) < items:
            if not self._pending:
                self.accept(10)
            plan.commands.append(self._command(self._pending.pop(0)))
            (chunk,) = list(plan.chunks())  # repeated updates of one order are merged
        return chunk

    def committed(self) -> None:
        self.last_seq = self._seq
