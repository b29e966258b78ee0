"""DynamoDB attribute values through botocore without its walk over the service model, value by
value (docs/benchmarks.md, "botocore's walk over attribute values").

Why: botocore turns request parameters into a JSON body, and a JSON body back into a response,
by walking the service model: each value is reached through a getattr built from an f-string,
and each structure's members are looked up one by one. For DynamoDB every attribute of every
item is such a structure (`AttributeValue`), so the cost grows with the attributes sent and
received. Client CPU per call, botocore's walk against this module's (`make bench-codec`): a
GetRecords page of 100 order records (the projector's and the replicator's read) 18.9 against
9.3 ms, a matcher's BatchGetItem of 10 orders 506 against 127 us, a GetItem of one order 76
against 21 us, an accept transaction of 4 orders 220 against 165 us. boto/boto3#2928 reports
the same cost and leaves it open.

On the wire an AttributeValue is already the JSON the caller gives and gets, except its binary
members (base64). These subclasses of botocore's JSON serializer and parser convert
AttributeValues, and maps of them, directly, with botocore's own base64 helpers; every other
shape, and any value the direct conversion does not recognise (an unknown member, a value of
the wrong type, several members set), goes to botocore's code unchanged, so what botocore would
raise it still raises. `install()` puts them in place of botocore's JSON protocol classes for
every client the process creates afterwards (PynamoDB's included).

Equivalence: tests/unit/platform/test_attribute_codec.py (Hypothesis: request bodies and parsed
responses equal to botocore's own, binary, sets, nested maps and lists included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from botocore import parsers, serialize
from botocore.model import Shape

# botocore-stubs declare neither the protocol classes' per-shape hooks overridden below nor the
# base64 helpers they call: the bases are typed loosely here, once, rather than at each use.
_JSONSerializer: Any = serialize.JSONSerializer
_JSONParser: Any = parsers.JSONParser

ATTRIBUTE_VALUE = "AttributeValue"
_MEMBERS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
_AS_IS = frozenset({"S", "N", "NULL", "BOOL"})  # strings and booleans: botocore copies them
_STRING_SETS = frozenset({"SS", "NS"})


class _NotDirect(Exception):
    """A value the direct conversion leaves to botocore."""


def _is_attribute_value(shape: Shape | None) -> bool:
    return (shape is not None and shape.name == ATTRIBUTE_VALUE
            and shape.type_name == "structure"
            and frozenset(getattr(shape, "members", ())) == _MEMBERS)


def _convert(value: Any, blob: Callable[[Any], Any]) -> dict[str, Any]:
    """One AttributeValue, both ways: `blob` is the direction's base64 step."""
    if type(value) is not dict or len(value) != 1:
        raise _NotDirect
    ((kind, member),) = value.items()
    if member is None:
        raise _NotDirect
    if kind in _AS_IS:
        return {kind: member}
    if kind == "M":
        if type(member) is not dict:
            raise _NotDirect
        return {kind: {key: _convert(item, blob) for key, item in member.items()}}
    if kind == "L":
        return {kind: [_convert(item, blob) for item in _items(member)]}
    if kind in _STRING_SETS:
        return {kind: list(_items(member))}
    if kind == "B":
        return {kind: blob(member)}
    if kind == "BS":
        return {kind: [blob(item) for item in _items(member)]}
    raise _NotDirect


def _items(member: Any) -> Any:
    if type(member) not in (list, tuple, set, frozenset):
        raise _NotDirect
    return member


def _direct_value(value: Any, blob: Callable[[Any], Any]) -> dict[str, Any] | None:
    """One AttributeValue converted, or None: botocore's code is to take it."""
    try:
        return _convert(value, blob)
    except _NotDirect:
        return None


def _direct_map(value: Any, blob: Callable[[Any], Any]) -> dict[str, Any] | None:
    """A map of AttributeValues (an item, a key, expression values) converted, or None."""
    if type(value) is not dict:
        return None
    try:
        return {name: _convert(item, blob) for name, item in value.items()}
    except _NotDirect:
        return None


class AttributeSerializer(_JSONSerializer):  # type: ignore[misc]
    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        direct = (_direct_value(value, self._get_base64)
                  if key is not None and _is_attribute_value(shape) else None)
        if direct is None:
            super()._serialize_type_structure(serialized, value, shape, key)
        else:
            serialized[key] = direct

    def _serialize_type_map(self, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        direct = _direct_map(value, self._get_base64) if _is_attribute_value(shape.value) else None
        if direct is None:
            super()._serialize_type_map(serialized, value, shape, key)
        else:
            serialized[key] = direct


class AttributeParser(_JSONParser):  # type: ignore[misc]
    def _handle_structure(self, shape: Any, value: Any) -> Any:
        direct = _direct_value(value, self._blob_parser) if _is_attribute_value(shape) else None
        return super()._handle_structure(shape, value) if direct is None else direct

    def _handle_map(self, shape: Any, value: Any) -> Any:
        direct = _direct_map(value, self._blob_parser) if _is_attribute_value(shape.value) else None
        return super()._handle_map(shape, value) if direct is None else direct


def install() -> None:
    """Use these classes for botocore's JSON protocol (DynamoDB, DynamoDB Streams, SQS, ...) in
    every client created from now on. Idempotent."""
    cast(dict[str, Any], serialize.SERIALIZERS)["json"] = AttributeSerializer
    cast(dict[str, Any], parsers.PROTOCOL_PARSERS)["json"] = AttributeParser
