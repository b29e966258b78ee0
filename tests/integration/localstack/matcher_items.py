"""Realistic matcher transactions for the local-stack tests and ``bench.localstack``.

Order Updates, event pages and the fenced shard Update are rendered by the product's own code
(``matching.storage.OrderUpdate.render`` / ``CommitPlan.chunks`` / ``matching.event_pages``:
merged updates, the ``#st IN (:o1, :o2, :o3) AND filledQty = :expected`` condition, ``ADD
filledNotionalTicks``, ``REMOVE openSymbol, openSort``, one page Put per chunk, ``epoch = :epoch
AND lastSeq = :expected``). Trade Puts have the shape of ``ShardMatcher._trade_put``
(matching/services.py; copied here so these tests do not import the matching engine). Tables
have the product's shape (pk/sk, 2-3 GSIs with ALL projection, Streams NEW_AND_OLD_IMAGES;
``tulip.localstack.provision``).

The flow alternates a resting GTC sell (OrderOpened: an event + an order Update) with a crossing
IOC buy that fills it (TradeExecuted: an event + a trade Put + maker and taker Updates), as in the
pipeline benchmark: ~1.5 items per message (one event page per transaction).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from matching.storage import CommandWrites, CommitPlan, OrderUpdate, order_key, shard_key, trade_id
from tulip.localstack.provision import NUMERIC_KEYS, ORDERS_INDEXES, TRADES_INDEXES

NOW = "2026-11-26T10:00:00.000Z"


def create_matcher_tables(ddb: Any, tag: str | None = None) -> tuple[str, str]:
    """The orders and trades tables, shaped as ``tulip.localstack.provision`` creates them."""
    tag = tag or uuid.uuid4().hex[:8]
    names = (f"orders-{tag}", f"trades-{tag}")
    for name, indexes in zip(names, (ORDERS_INDEXES, TRADES_INDEXES), strict=True):
        attributes = {"pk": "S", "sk": "S"}
        gsis = []
        for index_name, (hash_key, range_key) in indexes.items():
            attributes[hash_key] = "S"
            attributes[range_key] = "N" if range_key in NUMERIC_KEYS else "S"
            gsis.append({
                "IndexName": index_name,
                "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                              {"AttributeName": range_key, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            })
        ddb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in attributes.items()],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=gsis,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
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
        self.cfg = SimpleNamespace(orders_table=self.orders_table, trades_table=self.trades_table,
                                   aws_region="us-east-1")
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
            item = {
                **order_key(order_id), "orderId": {"S": order_id}, "clientId": {"S": client},
                "idempotencyKey": {"S": f"{self._count:064x}"}, "symbol": {"S": self.symbol},
                "side": {"S": side}, "qty": {"N": "1"}, "priceTicks": {"N": str(price)},
                "timeInForce": {"S": tif}, "postOnly": {"BOOL": False}, "status": {"S": "ACCEPTED"},
                "filledQty": {"N": "0"}, "filledNotionalTicks": {"N": "0"}, "createdAt": {"S": NOW},
                "acceptedAt": {"S": NOW}, "updatedAt": {"S": NOW}, "region": {"S": "us-east-1"},
                "openSymbol": {"S": self.symbol}, "openSort": {"S": f"A#{NOW}#{order_id}"},
            }
            self._pending.append(item)
            items.append(item)
        for start in range(0, len(items), 25):
            self.ddb.batch_write_item(RequestItems={self.orders_table: [
                {"PutRequest": {"Item": item}} for item in items[start:start + 25]]})

    @staticmethod
    def _event(seq: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"seq": seq, "type": kind, "ts": NOW, "payload": payload}

    def _trade_put(self, seq: int, price: int, maker: tuple[str, str],
                   taker: tuple[str, str]) -> dict[str, Any]:
        tid = trade_id(self.symbol, seq)
        item = {
            "pk": {"S": f"TRADE#{tid}"}, "sk": {"S": f"TRADE#{tid}"}, "tradeId": {"S": tid},
            "symbol": {"S": self.symbol}, "tradeSymbol": {"S": self.symbol},
            "seq": {"N": str(seq)}, "priceTicks": {"N": str(price)}, "qty": {"N": "1"},
            "takerSide": {"S": "BUY"}, "buyOrderId": {"S": taker[0]},
            "sellOrderId": {"S": maker[0]}, "buyClientId": {"S": taker[1]},
            "sellClientId": {"S": maker[1]}, "makerOrderId": {"S": maker[0]},
            "takerOrderId": {"S": taker[0]}, "ts": {"S": NOW}, "region": {"S": "us-east-1"},
        }
        return {"Put": {"TableName": self.trades_table, "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)"}}

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
                order_id, 0, 0, 0, "OPEN", seq, open_sort=f"B#{seq:020d}")}, seq, 0,
                [self._event(seq, "OrderOpened", payload)])
        maker_id, maker_client, maker_price = self._resting.pop(0)
        payload = {"tradeId": trade_id(self.symbol, seq), "price": f"{maker_price / 100:.2f}", "qty": 1,
                   "takerSide": "BUY", "makerOrderId": maker_id, "makerClientId": maker_client,
                   "makerRemaining": 0, "makerFilled": 1, "takerOrderId": order_id,
                   "takerClientId": client, "takerRemaining": 0, "takerFilled": 1,
                   "buyOrderId": order_id, "sellOrderId": maker_id, "l2": l2}
        puts = [self._trade_put(seq, maker_price, (maker_id, maker_client), (order_id, client))]
        updates = {oid: OrderUpdate(oid, 0, 1, maker_price, "FILLED", seq, closed=True)
                   for oid in (maker_id, order_id)}
        return CommandWrites(puts, updates, seq, 0, [self._event(seq, "TradeExecuted", payload)])

    def transaction(self, items: int) -> list[dict[str, Any]]:
        """The matcher's TransactWriteItems for the next batch of >= ``items`` items (whole
        commands; shard Update last). Accepts its orders first; call ``committed()`` after it
        succeeded, ``rolled_back()`` after it was cancelled."""
        plan = CommitPlan(self.cfg, self.symbol, self.epoch, self.last_seq, NOW)  # type: ignore[arg-type]
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
