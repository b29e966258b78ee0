"""High-volume models are not kept forever.

moto 5.2.5's ``BaseModel.__new__`` appends every model instance to a class list that only
/moto-api/reset clears: every written item, every item copied into a Query/Scan result, every
stream record and iterator and every SQS message (plus a copy per receive) stays in memory.
The list is what /moto-api/data.json shows, so it is counted there.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest

from .support import MotoServer, create_fifo_queue, create_table, fill_table, read_stream, shard_iterator


def _tracked(server: MotoServer) -> dict[str, int]:
    with urllib.request.urlopen(server.url + "/moto-api/data.json", timeout=30) as response:
        data = json.load(response)
    return {
        "Item": len(data["dynamodb"].get("Item", [])),
        "StreamRecord": len(data["dynamodb"].get("StreamRecord", [])),
        "ShardIterator": len(data["dynamodbstreams"].get("ShardIterator", [])),
        "Message": len(data["sqs"].get("Message", [])),
    }


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
def test_instances_are_not_tracked(patched: bool, moto_factory: Callable[..., MotoServer]) -> None:
    server = moto_factory(patched)
    table = create_table(server.dynamodb, stream=True)
    fill_table(server.dynamodb, table, 50)
    for _ in range(10):
        server.dynamodb.scan(TableName=table)
    read_stream(server, shard_iterator(server, table))
    url = create_fifo_queue(server.sqs)
    for i in range(10):
        server.sqs.send_message(
            QueueUrl=url, MessageBody=str(i), MessageGroupId="g", MessageDeduplicationId=str(i)
        )
    server.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)

    counts = _tracked(server)
    server.expect(
        counts == {"Item": 0, "StreamRecord": 0, "ShardIterator": 0, "Message": 0},
        f"instances kept for the dashboard: {counts}",
    )
    if not patched:
        assert counts["Item"] >= 10 * 50  # one copy per scanned item, per scan
