"""An UpdateItem that creates an item emits one INSERT record with the full image.

moto 5.2.5 emits two: a key-only INSERT (its internal put of the key), then the real one.
"""

from __future__ import annotations

import pytest

from .support import MotoServer, create_table, read_stream, shard_iterator


@pytest.mark.parametrize("in_transaction", [False, True], ids=["UpdateItem", "TransactWriteItems"])
def test_upsert_emits_one_insert(server: MotoServer, in_transaction: bool) -> None:
    ddb = server.dynamodb
    table = create_table(ddb, stream=True)
    ddb.put_item(TableName=table, Item={"pk": {"S": "before"}})
    update = {
        "TableName": table,
        "Key": {"pk": {"S": "SHARD#TULIP"}},
        "UpdateExpression": "SET lastSeq = :s, epoch = :e",
        "ExpressionAttributeValues": {":s": {"N": "1"}, ":e": {"N": "1"}},
    }
    if in_transaction:
        ddb.transact_write_items(TransactItems=[{"Update": update}])
    else:
        ddb.update_item(**update)
    ddb.update_item(**{**update, "ExpressionAttributeValues": {":s": {"N": "2"}, ":e": {"N": "1"}}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "after"}})

    records, _ = read_stream(server, shard_iterator(server, table))
    events = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]
    server.expect(
        events
        == [("INSERT", "before"), ("INSERT", "SHARD#TULIP"), ("MODIFY", "SHARD#TULIP"), ("INSERT", "after")],
        f"stream events {events}",
    )
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == list(range(sequence[0], sequence[0] + len(sequence)))  # gap-free on both
    if server.patched:
        assert records[1]["dynamodb"]["NewImage"]["lastSeq"] == {"N": "1"}
