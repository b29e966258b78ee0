"""The schema of record (tulip/schema.py): every item kind has one prefix, the low-level codec
writes exactly what PynamoDB reads back, and the table definitions hold every key and index the
models declare."""

from __future__ import annotations

import pytest

from tulip import event_pages, schema
from tulip.schema import (
    CancelItem,
    EpochItem,
    EventPageItem,
    IdempotencyItem,
    ItemCodec,
    LeaderItem,
    MatcherItem,
    OrderItem,
    RegionStatusItem,
    ReplicationItem,
    ShardItem,
    TradeItem,
)


def test_every_item_kind_has_its_own_prefix_and_is_found_by_it() -> None:
    prefixes = [model.PREFIX for model in schema.MODELS]  # type: ignore[attr-defined]
    assert len(set(prefixes)) == len(prefixes)
    for model in schema.MODELS:
        assert schema.model_for_key(model.PREFIX + "x") is model  # type: ignore[attr-defined]
    assert schema.model_for_key("NOPE#x") is None


def test_the_codec_writes_what_the_models_read() -> None:
    values = dict(pk=OrderItem.key("o1"), sk=OrderItem.key("o1"), order_id="o1", client_id="c",
                  idempotency_key="ik", symbol="TULIP", side="BUY", qty=7, price_ticks=10125,
                  time_in_force="IOC", post_only=True, status="OPEN", filled_qty=2,
                  filled_notional=20250, created_at="t0", accepted_at="t1", updated_at="t2",
                  region="us-east-1", accepted_az="us-east-1a", seq=12, open_symbol="TULIP",
                  open_sort=schema.resting_sort_key(12))
    item = ItemCodec(OrderItem).item(**values)
    assert item == OrderItem(**values).serialize()  # the same DynamoDB JSON as PynamoDB's
    read = OrderItem.from_raw_data(item)
    assert {name: getattr(read, name) for name in values} == values
    assert isinstance(read.qty, int) and read.remaining == 5


def test_the_codec_refuses_what_the_schema_does_not_hold() -> None:
    codec = ItemCodec(TradeItem)
    with pytest.raises(KeyError):
        codec.item(no_such_attribute=1)
    with pytest.raises(AssertionError):
        codec.item(qty=1.5)  # numbers are integers here, never floats


def test_tables_hold_every_key_and_index_their_models_declare() -> None:
    orders, trades = schema.TABLES
    assert orders.models == (OrderItem, IdempotencyItem, CancelItem)
    assert trades.models == (TradeItem, EventPageItem, ShardItem, EpochItem, LeaderItem,
                             RegionStatusItem, ReplicationItem, MatcherItem)
    assert orders.ttl_attribute == "expiresAt" and trades.ttl_attribute is None
    request = schema.create_table_request(trades, "t")
    assert {i["IndexName"] for i in request["GlobalSecondaryIndexes"]} == {
        "symbolTrades", "buyerFills", "sellerFills"}
    types = {d["AttributeName"]: d["AttributeType"] for d in request["AttributeDefinitions"]}
    assert types == {"pk": "S", "sk": "S", "tradeSymbol": "S", "seq": "N", "buyClientId": "S",
                     "sellClientId": "S"}
    request = schema.create_table_request(orders, "o")
    assert {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]]
            for i in request["GlobalSecondaryIndexes"]} == {
        "clientOrders": ["clientId", "createdAt"], "openOrders": ["openSymbol", "openSort"]}
    assert request["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_idempotency_and_cancel_records_stay_out_of_the_client_orders_index() -> None:
    # A record carrying clientId/createdAt would be projected into clientOrders and be listed
    # as one of the client's orders.
    for model in (IdempotencyItem, CancelItem):
        names = ItemCodec(model).names.values()
        assert "clientId" not in names and "createdAt" not in names, model


def test_event_pages_round_trip_through_the_model() -> None:
    records = [{"seq": s, "type": "OrderOpened", "ts": "t", "payload": {"n": s}} for s in (4, 5)]
    (item,) = event_pages.page_items("SYM", 1_000_002, records)
    assert item["sk"]["S"] == EventPageItem.sort_key(5, 1_000_002)
    assert EventPageItem.first_key_of(5) < item["sk"]["S"] < EventPageItem.last_key_of(5)
    assert EventPageItem.last_key_of(4) < EventPageItem.first_key_of(5)
    assert [(e["seq"], e["epoch"]) for e in event_pages.decode_item(item)] == [(4, 1_000_002),
                                                                               (5, 1_000_002)]
