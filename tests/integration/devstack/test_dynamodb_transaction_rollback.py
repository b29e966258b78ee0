"""A cancelled TransactWriteItems leaves no partial write, and Streams show only committed records.

moto 5.2.5 rolls back by swapping in a deep copy of the table: a stream iterator opened before the
cancelled transaction keeps reading the old table's shard, so it sees the rolled-back records and
misses every later write.
"""

from __future__ import annotations

from typing import Any

import pytest

from .support import MotoServer, create_table, read_stream, shard_iterator


def _put(table: str, pk: str, **cond: Any) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {"pk": {"S": pk}, "v": {"N": "1"}}, **cond}}


def test_cancelled_transaction_leaves_no_trace(server: MotoServer) -> None:
    ddb = server.dynamodb
    table = create_table(ddb, stream=True)
    ddb.put_item(TableName=table, Item={"pk": {"S": "before"}, "v": {"N": "0"}})
    iterator = shard_iterator(server, table, "TRIM_HORIZON")

    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(
            TransactItems=[
                _put(table, "rolled-back-1"),
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "before"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "99"}},
                    }
                },
                _put(table, "rolled-back-2"),
                _put(table, "before-dup", ConditionExpression="attribute_exists(pk)"),
                _put(table, "rolled-back-3"),
            ]
        )
    # moto's error behaviour is kept: one reason per operation, in order.
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed", "None"]

    # No partial write (true on both: moto restores its table copy).
    keys = sorted(i["pk"]["S"] for i in ddb.scan(TableName=table)["Items"])
    assert keys == ["before"]
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "before"}})["Item"]["v"] == {"N": "0"}

    ddb.put_item(TableName=table, Item={"pk": {"S": "after"}, "v": {"N": "2"}})
    records, _ = read_stream(server, iterator)
    seen = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]
    server.expect(
        seen == [("INSERT", "before"), ("INSERT", "after")],
        f"stream iterator opened before a cancelled transaction reads {seen}",
    )

    # A fresh iterator agrees (on both servers: it reads the table object now in place).
    fresh, _ = read_stream(server, shard_iterator(server, table, "TRIM_HORIZON"))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in fresh] == ["before", "after"]


def test_validation_error_mid_transaction_rolls_back(server: MotoServer) -> None:
    """A validation error after earlier writes re-raises (not a cancellation) and undoes them."""
    ddb = server.dynamodb
    table = create_table(ddb, stream=True)
    with pytest.raises(ddb.exceptions.ClientError) as err:
        ddb.transact_write_items(
            TransactItems=[
                _put(table, "a"),
                {"Put": {"TableName": table, "Item": {"pk": {"N": "1"}}}},  # wrong key type
            ]
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert ddb.scan(TableName=table)["Items"] == []
