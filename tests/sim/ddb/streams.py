"""DynamoDB Streams over the simulated tables: what the replicator (devstack/replicator.py) reads.

Each table's stream is one shard that never closes (a table this small never splits). An
iterator names a position in it; GetRecords hands out the records after that position, oldest
first, with both images (NEW_AND_OLD_IMAGES) and ApproximateCreationDateTime in epoch seconds, and
the iterator to read on from. Reading again with an old iterator reads the same records again, as
on DynamoDB within the 24-hour retention.
"""

from __future__ import annotations

from typing import Any

from tests.sim.ddb import values as v
from tests.sim.ddb.service import DynamoError, SimDynamoDB
from tests.sim.ddb.table import StreamRecord, Table

SHARD_ID = "shardId-00000001"
MAX_RECORDS = 1000


class SimStreams:
    def __init__(self, ddb: SimDynamoDB) -> None:
        self.ddb = ddb

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        handler = {"DescribeStream": self.describe_stream,
                   "GetShardIterator": self.get_shard_iterator,
                   "GetRecords": self.get_records}.get(operation)
        if handler is None:
            raise NotImplementedError(f"the simulated DynamoDB Streams has no {operation}")
        return handler(request)

    def _table(self, arn: Any) -> Table:
        for table in self.ddb.tables.values():
            if self.ddb.stream_arn(table) == arn:
                return table
        raise DynamoError("ResourceNotFoundException", f"Requested resource not found: {arn}")

    def describe_stream(self, request: dict[str, Any]) -> dict[str, Any]:
        arn = request["StreamArn"]
        self._table(arn)
        return {"StreamDescription": {"StreamArn": arn, "StreamStatus": "ENABLED",
                                      "StreamViewType": "NEW_AND_OLD_IMAGES",
                                      "Shards": [{"ShardId": SHARD_ID}]}}

    def get_shard_iterator(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["StreamArn"])
        kind = request["ShardIteratorType"]
        if kind == "TRIM_HORIZON":
            start = 0
        elif kind == "LATEST":
            start = len(table.stream)
        else:
            raise NotImplementedError(f"ShardIteratorType {kind}")
        return {"ShardIterator": f"{table.name}|{start}"}

    def get_records(self, request: dict[str, Any]) -> dict[str, Any]:
        name, _, position = str(request["ShardIterator"]).rpartition("|")
        table = self.ddb.table(name)
        start = int(position)
        limit = min(int(request.get("Limit", MAX_RECORDS)), MAX_RECORDS)
        records = table.stream[start:start + limit]
        return {"Records": [_wire(r) for r in records],
                "NextShardIterator": f"{name}|{start + len(records)}"}


def _wire(record: StreamRecord) -> dict[str, Any]:
    data: dict[str, Any] = {"Keys": v.copy_item(record.keys),
                            "SequenceNumber": f"{record.sequence:021d}",
                            "ApproximateCreationDateTime": record.at,
                            "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if record.new is not None:
        data["NewImage"] = v.copy_item(record.new)
    if record.old is not None:
        data["OldImage"] = v.copy_item(record.old)
    return {"eventName": record.event, "eventSource": "aws:dynamodb", "dynamodb": data}
