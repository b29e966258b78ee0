"""GetRecords is cheap per record, and returns what moto's serializer returned.

moto 5.2.5 serialises GetRecords through its generic botocore-model serializer at ~2.7 ms per
record, so a stream tailer cannot pass ~400 records/s. Counted in server-side Python calls
(``work_meter``): ~1,600 per record on stock moto, a handful patched.
"""

from __future__ import annotations

import datetime

from .support import MotoServer, calls_of, create_table, shard_iterator

RECORDS = 300


def _order(n: int, status: str) -> dict[str, dict[str, str]]:
    """An item shaped like an Orders row (12 attributes)."""
    return {
        "pk": {"S": f"ORDER#{n}"},
        "sk": {"S": f"ORDER#{n}"},
        "status": {"S": status},
        "side": {"S": "BUY"},
        "qty": {"N": "100"},
        "price": {"N": "101.25"},
        "filledQty": {"N": "0"},
        "idempotencyKey": {"S": "k" * 64},
        "clientId": {"S": "client-1"},
        "createdAt": {"S": "2026-01-01T00:00:00Z"},
        "region": {"S": "us-east-1"},
        "acceptedAz": {"S": "use1-az1"},
    }


def _read_all_calls(server: MotoServer, table: str, limit: int) -> tuple[int, int]:
    iterator = shard_iterator(server, table, "TRIM_HORIZON")
    out = server.metered("dynamodbstreams").get_records(ShardIterator=iterator, Limit=limit)
    return calls_of(out), len(out["Records"])


def test_get_records_cost_per_record(server: MotoServer) -> None:
    table = create_table(server.dynamodb, stream=True)
    for status in ("ACCEPTED", "OPEN"):  # INSERT records, then MODIFY records (old + new image)
        for start in range(0, RECORDS // 2, 25):
            puts = [{"PutRequest": {"Item": _order(n, status)}} for n in range(start, start + 25)]
            server.dynamodb.batch_write_item(RequestItems={table: puts})
    one = min(_read_all_calls(server, table, 1)[0] for _ in range(3))
    full, count = min(_read_all_calls(server, table, 1000) for _ in range(3))
    assert count == RECORDS
    per_record = (full - one) / (RECORDS - 1)
    server.expect(per_record < 100, f"GetRecords costs {per_record:,.0f} server calls per record")


def test_get_records_shape(server: MotoServer) -> None:
    table = create_table(server.dynamodb, stream=True)
    server.dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": "a"},
            "n": {"N": "1.50"},
            "b": {"B": b"\x00xyz"},
            "m": {"M": {"t": {"BOOL": True}}},
        },
    )
    server.dynamodb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
    out = server.streams.get_records(ShardIterator=shard_iterator(server, table))
    insert, remove = out["Records"]
    assert out["NextShardIterator"]
    assert insert["eventName"] == "INSERT" and remove["eventName"] == "REMOVE"
    image = insert["dynamodb"]["NewImage"]
    assert image == {
        "pk": {"S": "a"},
        "n": {"N": "1.50"},
        "b": {"B": b"\x00xyz"},
        "m": {"M": {"t": {"BOOL": True}}},
    }
    assert remove["dynamodb"]["OldImage"] == image and "NewImage" not in remove["dynamodb"]
    created = insert["dynamodb"]["ApproximateCreationDateTime"]
    assert isinstance(created, datetime.datetime)
    assert abs((datetime.datetime.now(datetime.UTC) - created).total_seconds()) < 60
    assert int(remove["dynamodb"]["SequenceNumber"]) == int(insert["dynamodb"]["SequenceNumber"]) + 1
