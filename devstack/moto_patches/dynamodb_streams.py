"""Fix ``dynamodb_streams``: fast GetRecords, bounded shard iterators, bounded stream retention.

Why (measured on moto 5.2.5):

* GetRecords goes through moto's generic botocore-model serializer, ~2.7 ms per record: a stream
  tailer cannot pass ~400 records/s, far below what one matcher commits.
* Every GetRecords stores a new ShardIterator in a dict that is never pruned (~2 KB each), and the
  shard keeps every record forever: a long load test grows the server without bound.
* An unknown iterator is a KeyError (HTTP 500), a position behind the retained records an
  AssertionError (HTTP 500).
* Every write serialises its whole stream record to JSON just to fill ``SizeBytes`` (~6 % of a
  matcher transaction's server time), whether or not anyone reads the stream.

Fix:

* GetRecords serialises with ``json.dumps`` (records are already DynamoDB-JSON; the only
  non-JSON value, ApproximateCreationDateTime, becomes epoch seconds with millisecond precision,
  exactly what the generic serializer emits).
* Iterators live in a bounded store: dropped when older than ``TULIP_MOTO_STREAM_ITERATOR_TTL_S``
  (default 900 s, AWS's 15 minutes) or beyond ``TULIP_MOTO_STREAM_MAX_ITERATORS`` (default 10,000,
  oldest first). Using a dropped one gives ExpiredIteratorException, as on AWS.
* Records older than ``TULIP_MOTO_STREAM_RETENTION_S`` (default 86,400 s, AWS's 24 hours) or
  beyond ``TULIP_MOTO_STREAM_MAX_RECORDS`` (default 100,000, oldest first) are trimmed when a
  record is added; sequence numbers stay stable (the shard's start moves forward) and reading a
  trimmed position gives TrimmedDataAccessException, as on AWS.
* ``SizeBytes`` is computed when the record is first read (``StreamRecord.to_json``, the only way
  moto hands a record out), from the same dump moto made at write time, so it is unchanged; the
  record's images are still taken at write time.
"""

from __future__ import annotations

import datetime
import json
import time
from collections import OrderedDict
from typing import Any

from ._util import env_number, replace

NAME = "dynamodb_streams"

_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}
_EPOCH = datetime.datetime(1970, 1, 1)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return round((value - _EPOCH).total_seconds(), 3)
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _get_records_response(self: Any) -> tuple[str, dict[str, str]]:
    """DynamoDBStreamsHandler.get_records without the generic serializer."""
    arn = self._get_param("ShardIterator")
    limit = self._get_param("Limit")
    result = self.backend.get_records(arn, 1000 if limit is None else limit)
    return json.dumps(result, default=_json_default), dict(_JSON_HEADERS)


class IteratorStore(OrderedDict[str, Any]):
    """Shard iterators by ARN, oldest first, bounded by age and count."""

    def __init__(self) -> None:
        super().__init__()
        self.ttl_s = env_number("TULIP_MOTO_STREAM_ITERATOR_TTL_S", 900.0)
        self.max_count = int(env_number("TULIP_MOTO_STREAM_MAX_ITERATORS", 10_000))
        self.created: dict[str, float] = {}

    def __setitem__(self, arn: str, iterator: Any) -> None:
        now = time.monotonic()
        super().__setitem__(arn, iterator)
        self.created[arn] = now
        while self and (len(self) > self.max_count or now - self.created[next(iter(self))] > self.ttl_s):
            oldest, _ = self.popitem(last=False)
            self.created.pop(oldest, None)


def _expired_iterator() -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(
        "ExpiredIteratorException", "Iterator expired. The iterator was created more than 15 minutes ago."
    )


def _trimmed() -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(
        "TrimmedDataAccessException",
        "The operation attempted to read past the oldest stream record in a shard.",
    )


def _backend_get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
    shard_iterator = self.shard_iterators.get(iterator_arn)
    if shard_iterator is None:
        raise _expired_iterator()
    result: dict[str, Any] = shard_iterator.get(limit)
    return result


def _shard_get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
    offset = start - self.starting_sequence_number
    if offset < 0:
        raise _trimmed()
    return [record.to_json() for record in self.items[offset : offset + quantity]]


def _trim(shard: Any) -> None:
    max_records = int(env_number("TULIP_MOTO_STREAM_MAX_RECORDS", 100_000))
    retention_s = env_number("TULIP_MOTO_STREAM_RETENTION_S", 86_400.0)
    items = shard.items
    drop = max(len(items) - max_records, 0)
    cutoff = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(
        seconds=retention_s
    )
    while drop < len(items) and items[drop].record["dynamodb"]["ApproximateCreationDateTime"] < cutoff:
        drop += 1
    if drop:
        del items[:drop]
        shard.starting_sequence_number += drop


def _no_dump(record: Any) -> str:
    """Stands in for the write-time dump in ``StreamRecord.__init__`` (its only use in that
    module): ``SizeBytes`` becomes 0 there, which no real record has, and is filled on read."""
    return ""


def _record_json(self: Any) -> dict[str, Any]:
    from moto.dynamodb.models.utilities import dynamo_json_dump

    dynamodb = self.record["dynamodb"]
    if dynamodb["SizeBytes"] == 0:
        # moto dumped the record while SizeBytes still held its placeholder 1.
        dynamodb["SizeBytes"] = len(dynamo_json_dump({**dynamodb, "SizeBytes": 1}))
    record: dict[str, Any] = self.record
    return record


def apply() -> None:
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.table import StreamRecord, StreamShard

    replace(table_module, "dynamo_json_dump", _no_dump)
    replace(StreamRecord, "to_json", _record_json)
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    replace(DynamoDBStreamsHandler, "get_records", _get_records_response)
    replace(DynamoDBStreamsBackend, "get_records", _backend_get_records)
    replace(StreamShard, "get", _shard_get)

    original_init = DynamoDBStreamsBackend.__init__

    def init(self: Any, region_name: str, account_id: str) -> None:
        original_init(self, region_name, account_id)
        self.shard_iterators = IteratorStore()

    replace(DynamoDBStreamsBackend, "__init__", init)

    original_add = StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        original_add(self, old, new)
        _trim(self)

    replace(StreamShard, "add", add)
