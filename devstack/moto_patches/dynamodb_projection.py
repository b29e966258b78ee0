"""Fix ``dynamodb_projection``: a ProjectionExpression of top-level attributes picks them directly.

Why (measured on moto 5.2.5): ``Item.project`` turns the whole item into plain Python values once
per projected path (``to_regular_json`` through boto3's TypeDeserializer), walks it, and serialises
what it found back into DynamoDB types. The matcher's BatchGetItem projects ten top-level
attributes of each order: ten full conversions of every attribute per order, which made a
projected read of an order cost more than reading all of it (~0.3 ms per key on the 2-core box).

Fix: when every path is a single top-level name (no ``a.b`` nesting, no ``a[0]`` index, which is
what every projection of this project is), the projected item takes the stored attribute values
as they are. Values are read-only while the response is built (one DynamoDB action at a time, see
``dynamodb_transactions``), so sharing them is safe. Any other path goes through moto's own code.
One visible difference: a projected string/number/binary set keeps the order it was stored in
(as an unprojected read returns it), where moto's round trip through Python sets may reorder it;
DynamoDB sets are unordered either way.
"""

from __future__ import annotations

from typing import Any

from ._util import replace

NAME = "dynamodb_projection"


def _top_level_names(paths: list[list[str]]) -> list[str] | None:
    names = []
    for path in paths:
        if len(path) != 1 or "[" in path[0]:
            return None
        names.append(path[0])
    return names


def apply() -> None:
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    if getattr(Item.project, "__tulip_fast__", False):
        return
    original = Item.project

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        names = _top_level_names(projection_expressions)
        if names is None:
            return original(self, projection_expressions)
        # moto annotates BaseModel.__new__ as returning BaseModel, not the class it makes.
        result: Item = Item.__new__(Item)  # type: ignore[assignment]
        result.hash_key, result.range_key = self.hash_key, self.range_key
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)  # the source item passed the size check when it was written
        for name in names:
            value = self.attrs.get(name)
            if value is not None:
                dict.__setitem__(attrs, name, value)
        result.attrs = attrs
        return result

    project.__tulip_fast__ = True  # type: ignore[attr-defined]
    replace(Item, "project", project)
