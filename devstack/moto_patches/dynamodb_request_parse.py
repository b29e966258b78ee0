"""Fix ``dynamodb_request_parse``: scalar AttributeValues are parsed without walking their shape.

Why (measured on moto 5.2.5): moto parses every request body with a generic botocore-model parser.
For each AttributeValue (``{"S": "..."}``, one per attribute of every item, key and expression
value) it walks all ten members of the AttributeValue shape, looking each up in the value: a
30-item matcher transaction holds ~400 of them, ~5 ms of server time per request, growing with
the item count.

Fix: an AttributeValue holding exactly one member whose shape is a plain string or boolean
(``S``, ``N``, ``BOOL``, ``NULL``; the generic parser returns those values unchanged) is returned
as ``{member: value}`` directly. Everything else (``B``/``BS`` blobs, sets, ``M``, ``L``, several
members, unknown members, nulls) still goes through the generic parser, so results are identical.
A map of AttributeValues (an item, a key, ExpressionAttributeValues) is walked in one loop that
applies the same rule per value, instead of two generic dispatches (key, value) per attribute:
the JSON parser returns string map keys unchanged, so only the per-value decision matters.
"""

from __future__ import annotations

from typing import Any

from ._util import replace

NAME = "dynamodb_request_parse"

_PLAIN = ("string", "boolean")


def apply() -> None:
    from moto.core.parse import BaseJSONParser

    original: Any = BaseJSONParser._parse_structure
    if getattr(original, "__tulip_fast_attribute_value__", False):
        return

    def parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue" and type(value) is dict and len(value) == 1:
            ((member, raw),) = value.items()
            member_shape = shape.members.get(member)
            if (
                raw is not None
                and member_shape is not None
                and member_shape.type_name in _PLAIN
                and member_shape.serialization.get("name", member) == member
            ):
                parsed = self.MAP_TYPE()
                parsed[member] = raw
                return parsed
        return original(self, shape, value)

    parse_structure.__tulip_fast_attribute_value__ = True  # type: ignore[attr-defined]
    replace(BaseJSONParser, "_parse_structure", parse_structure)

    original_map: Any = BaseJSONParser._parse_map

    def parse_map(self: Any, shape: Any, value: Any) -> Any:
        value_shape = shape.value
        if (value_shape.name != "AttributeValue" or shape.key.type_name != "string"
                or type(value) is not dict or hasattr(self, "_parse_string")):
            return original_map(self, shape, value)
        members = value_shape.members
        parsed = self.MAP_TYPE()
        for key, item in value.items():
            if type(item) is dict and len(item) == 1:
                ((member, raw),) = item.items()
                member_shape = members.get(member)
                if (
                    raw is not None
                    and member_shape is not None
                    and member_shape.type_name in _PLAIN
                    and member_shape.serialization.get("name", member) == member
                ):
                    single = self.MAP_TYPE()
                    single[member] = raw
                    parsed[key] = single
                    continue
            parsed[key] = self._parse_shape(value_shape, item)
        return parsed

    replace(BaseJSONParser, "_parse_map", parse_map)
