"""Fix ``dynamodb_type_fast_paths``: building, hashing and comparing a string DynamoType costs one call.

Why (measured on moto 5.2.5 with the other fixes applied, a 31-item matcher TransactWriteItems,
counted per Python call): every key lookup in a table (``items[hash_key][range_key]``; a
transaction looks each item up three or four times) hashes and compares ``DynamoType`` keys
through ``cast_value``, a property that asks ``is_number`` / ``is_set`` / ``is_list`` /
``is_map`` / ``is_null`` in turn: ~20 calls per dict probe, ~85 calls per transaction item. Every
``DynamoType({...})`` built (~18 per item) spends two more calls on ``is_list`` / ``is_map``.

Fix (same values, same results):

* ``__hash__`` / ``__eq__`` / ``__ne__`` of a type ``S`` value use the string itself: for ``S``,
  ``cast_value`` *is* the value, so ``hash((type, cast_value))`` and the comparisons are
  unchanged; every other type keeps moto's code (numbers compare as Decimals, sets as sets...).
  Comparing with a non-DynamoType fails exactly as before (``other.type`` is read first).
* ``__init__`` from a one-member dict of a scalar type (``S``, ``N``, ``B``, ``BOOL``, ``NULL``)
  stores type and value directly, which is what moto's code ends with for those types; lists,
  maps, sets, copies from a DynamoType and odd input go through moto's code.
* ``size()`` of an ``S`` or ``N`` whose value is a ``str`` is computed directly (``S``: its UTF-8
  length, as ``bytesize``; ``N``: its text length), without the four type probes; every other
  case is moto's. (Items are measured attribute by attribute on every Put.)
* ``Item.size()`` (``bytesize(name) + value.size()`` summed; BatchGetItem measures every item it
  returns twice, for its 16 MB response limit) adds the same numbers in one loop, applying the
  ``S``/``N`` rule above inline, instead of a generator step plus two calls per attribute.
"""

from __future__ import annotations

from typing import Any

from ._util import replace

NAME = "dynamodb_type_fast_paths"

_SCALARS = frozenset({"S", "N", "B", "BOOL", "NULL"})


def apply() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.utilities import bytesize

    if getattr(DynamoType.__init__, "__tulip_fast__", False):
        return
    original_init = DynamoType.__init__
    original_hash = DynamoType.__hash__
    original_eq = DynamoType.__eq__
    original_ne = DynamoType.__ne__
    original_size = DynamoType.size

    def init(self: Any, type_as_dict: Any) -> None:
        if type(type_as_dict) is dict and len(type_as_dict) == 1:
            ((kind, value),) = type_as_dict.items()
            if kind in _SCALARS:
                self.type = kind
                self.value = value
                return
        original_init(self, type_as_dict)

    def hash_(self: Any) -> int:
        if self.type == "S":
            return hash(("S", self.value))
        return int(original_hash(self))

    def eq(self: Any, other: Any) -> bool:
        if self.type == "S":
            return bool(self.type == other.type and self.value == other.value)
        return bool(original_eq(self, other))

    def ne(self: Any, other: Any) -> bool:
        if self.type == "S":
            return bool(self.type != other.type or self.value != other.value)
        return bool(original_ne(self, other))

    def size(self: Any) -> int:
        value = self.value
        if type(value) is str:
            if self.type == "S":
                return len(value.encode("utf-8"))
            if self.type == "N":
                return len(value)
        return int(original_size(self))

    def item_size(self: Any) -> int:
        total = 0
        for name, attribute in self.attrs.items():
            total += len(name.encode("utf-8")) if type(name) is str else bytesize(name)
            value = attribute.value
            if type(value) is str and attribute.type == "S":
                total += len(value.encode("utf-8"))
            elif type(value) is str and attribute.type == "N":
                total += len(value)
            else:
                total += attribute.size()
        return total

    init.__tulip_fast__ = True  # type: ignore[attr-defined]
    replace(DynamoType, "__init__", init)
    replace(DynamoType, "__hash__", hash_)
    replace(DynamoType, "__eq__", eq)
    replace(DynamoType, "__ne__", ne)
    replace(DynamoType, "size", size)
    replace(Item, "size", item_size)
