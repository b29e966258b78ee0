"""Fix ``model_tracking``: stop moto keeping every high-volume model instance forever.

Why: ``BaseModel.__new__`` (moto/core/common_models.py) appends every instance of every model to a
class-level list that only ``/moto-api/reset`` clears (it feeds the dashboard). DynamoDB creates an
``Item`` per write and per item in every Query/Scan result (results are deep copies), the old
transaction code deep-copied whole tables, Streams creates a ``StreamRecord`` per write and a
``ShardIterator`` per GetRecords, SQS a ``Message`` per send plus a copy per receive: all kept, so
the server's memory only grows (+85 MB per 10-operation transaction on a 5,000-item table).

Fix: these classes get a plain ``__new__`` (no tracking). Only the dashboard's listing of them is
lost; the stand-in's behaviour is unchanged.
"""

from __future__ import annotations

from typing import Any

NAME = "model_tracking"


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def untracked_classes() -> list[type]:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord
    from moto.dynamodbstreams.models import ShardIterator
    from moto.sqs.models import Message

    return [Item, StreamRecord, ShardIterator, Message]


def apply() -> None:
    for cls in untracked_classes():
        cls.__new__ = _untracked_new  # type: ignore[assignment]
        cls.instances_tracked = []  # type: ignore[attr-defined]
