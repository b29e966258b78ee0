"""Fix ``dynamodb_update_insert``: an UpdateItem that creates an item emits one INSERT record.

Why: moto 5.2.5's ``DynamoDBBackend.update_item`` creates a missing item by first putting a
key-only item (stream record: INSERT with just the key) and then applying the update (a second
INSERT, with the full image). Tailers are idempotent anyway, but the key-only INSERT is a record
that never existed on AWS and doubles the stream traffic of the matcher's upserts.

Fix: when an update adds exactly those two records, drop the key-only one and give the real
INSERT its sequence number (runs under the DynamoDB lock, so no other record can interleave).
"""

from __future__ import annotations

from typing import Any

from ._util import replace

NAME = "dynamodb_update_insert"


def apply() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    original_update_item = DynamoDBBackend.update_item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        shard = self.get_table(table_name).stream_shard
        end = None if shard is None else shard.starting_sequence_number + len(shard.items)
        result = original_update_item(self, table_name, key, *args, **kwargs)
        if shard is not None and end is not None:
            first = end - shard.starting_sequence_number
            added = shard.items[first:] if first >= 0 else []
            if len(added) == 2 and all(r.record["eventName"] == "INSERT" for r in added):
                key_only, full = added
                full.record["dynamodb"]["SequenceNumber"] = key_only.record["dynamodb"]["SequenceNumber"]
                del shard.items[first]
        return result

    replace(DynamoDBBackend, "update_item", update_item)
