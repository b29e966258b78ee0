"""Fix ``dynamodb_read_responses``: GetItem, BatchGetItem, Query and Scan answer with ``json.dumps``.

Why (measured on moto 5.2.5): these responses go through moto's generic botocore-model serializer,
which walks the output shape member by member and, for every attribute of every item, asks a value
picker for each possible alias of each of the ten AttributeValue members: ~2 ms per order item.
A 10-key BatchGetItem (the matcher's read of a batch's orders, every cycle) took 25 ms against
5.6 ms for one key; ~90 % of it in ``serialize``. The matcher's "engine" stage is mostly this read.

Fix: the result these handlers build is already DynamoDB JSON (``DynamoResult`` has turned every
DynamoType into ``{"S": ...}``-style dicts); it is written with ``json.dumps``. Binary values
(bytes) become base64 text, as the generic serializer writes blobs. Errors are untouched (they are
raised before a result exists and serialised by moto as before), and so is every other action.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from typing import Any

from ._util import replace

NAME = "dynamodb_read_responses"

ACTIONS = ("get_item", "batch_get_item", "query", "scan")
_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _plain_json(method: Callable[..., Any], result_types: tuple[type, ...]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any) -> Any:
        result = method(self)
        if type(result) in result_types and not isinstance(result.result, Exception):
            return json.dumps(result.result, default=_json_default), dict(_JSON_HEADERS)
        return result

    call.__tulip_plain_json__ = True  # type: ignore[attr-defined]
    return call


def apply() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    for action in ACTIONS:
        method = getattr(DynamoHandler, action)
        if not getattr(method, "__tulip_plain_json__", False):
            replace(DynamoHandler, action, _plain_json(method, (DynamoResult, ActionResult)))
