"""Shard iterators and stream records are bounded (AWS: iterators expire, records are trimmed).

moto 5.2.5 stores a new iterator for every GetRecords and every record forever; an unknown
iterator or a trimmed position is an HTTP 500.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from .support import MotoServer, create_table, fill_table, read_stream, shard_iterator


def test_old_iterators_are_dropped(server: MotoServer) -> None:
    """The test servers keep at most 64 iterators (TULIP_MOTO_STREAM_MAX_ITERATORS=64)."""
    table = create_table(server.dynamodb, stream=True)
    server.dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    first = shard_iterator(server, table)
    iterator = first
    for _ in range(100):
        iterator = server.streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    try:
        server.streams.get_records(ShardIterator=first)
        kept = True
    except server.streams.exceptions.ExpiredIteratorException:
        kept = False
    server.expect(not kept, "every shard iterator ever handed out is kept")
    # The newest iterator still works.
    assert server.streams.get_records(ShardIterator=iterator)["Records"] == []


def test_unknown_iterator_is_a_client_error(server: MotoServer) -> None:
    table = create_table(server.dynamodb, stream=True)
    bogus = shard_iterator(server, table)[:-8] + "AAAAAAA="
    with pytest.raises(ClientError) as err:
        server.streams.get_records(ShardIterator=bogus)
    status = err.value.response["ResponseMetadata"]["HTTPStatusCode"]
    server.expect(
        status == 400 and err.value.response["Error"]["Code"] == "ExpiredIteratorException",
        f"unknown shard iterator gives HTTP {status}",
    )


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
def test_stream_retention_is_bounded(patched: bool, moto_factory: Callable[..., MotoServer]) -> None:
    server = moto_factory(patched, {"TULIP_MOTO_STREAM_MAX_RECORDS": "50"})
    table = create_table(server.dynamodb, stream=True)
    fill_table(server.dynamodb, table, 20)
    early = shard_iterator(server, table, "TRIM_HORIZON")  # points at record 1
    fill_table(server.dynamodb, table, 80)  # 20 overwrites + 60 inserts: 100 records in all
    records, _ = read_stream(server, shard_iterator(server, table, "TRIM_HORIZON"))
    server.expect(len(records) == 50, f"stream keeps all {len(records)} records")
    if patched:
        sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        assert sequence == list(range(sequence[0], sequence[0] + 50))  # the newest 50, gap-free
        assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records][-1] == "item-79"
        with pytest.raises(server.streams.exceptions.TrimmedDataAccessException):
            server.streams.get_records(ShardIterator=early)
        # LATEST still follows new writes after trimming.
        latest = shard_iterator(server, table, "LATEST")
        server.dynamodb.put_item(TableName=table, Item={"pk": {"S": "new"}})
        tail, _ = read_stream(server, latest)
        assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in tail] == ["new"]
        assert int(tail[0]["dynamodb"]["SequenceNumber"]) == sequence[-1] + 1


def test_stream_retention_by_age(moto_factory: Callable[..., MotoServer]) -> None:
    """Patched only (moto keeps records forever): records older than the retention are trimmed."""
    import time

    server = moto_factory(True, {"TULIP_MOTO_STREAM_RETENTION_S": "1"})
    table = create_table(server.dynamodb, stream=True)
    fill_table(server.dynamodb, table, 5)
    time.sleep(1.2)
    server.dynamodb.put_item(TableName=table, Item={"pk": {"S": "fresh"}})
    records, _ = read_stream(server, shard_iterator(server, table, "TRIM_HORIZON"))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["fresh"]
