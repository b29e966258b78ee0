"""DynamoDB attribute values (`{"S": "x"}`, `{"N": "1"}`, ...): typing, comparison, arithmetic.

Values are the wire shapes boto3 and PynamoDB send. The simulation never mutates a value in
place: every write builds new ones, so stored items can share them safely.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

Value = dict[str, Any]
Item = dict[str, Value]

SCALAR_TYPES = ("S", "N", "B")
SET_TYPES = ("SS", "NS", "BS")
ALL_TYPES = ("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M")


class TypeMismatch(Exception):
    """An operator met an operand of a type it does not take (a ValidationException)."""


def kind(value: Value) -> str:
    (name,) = value.keys()
    return name


def number(value: Value) -> Decimal:
    return Decimal(value["N"])


def number_value(amount: Decimal) -> Value:
    """A computed number as DynamoDB stores it: no exponent, no trailing fractional zeros."""
    text = format(amount.normalize(), "f") if amount != amount.to_integral() else str(int(amount))
    return {"N": text}


def _sortable(value: Value) -> Any:
    name = kind(value)
    if name == "N":
        return number(value)
    return value[name]


def _set_members(value: Value) -> frozenset[Any]:
    name = kind(value)
    if name == "NS":
        return frozenset(Decimal(n) for n in value["NS"])
    return frozenset(value[name])


def equal(left: Value | None, right: Value | None) -> bool:
    if left is None or right is None:
        return left is right
    name = kind(left)
    if name != kind(right):
        return False
    if name == "N":
        return number(left) == number(right)
    if name in SET_TYPES:
        return _set_members(left) == _set_members(right)
    if name == "L":
        return len(left["L"]) == len(right["L"]) and all(
            equal(a, b) for a, b in zip(left["L"], right["L"], strict=True))
    if name == "M":
        return left["M"].keys() == right["M"].keys() and all(
            equal(v, right["M"][k]) for k, v in left["M"].items())
    return bool(left[name] == right[name])


def ordered(left: Value | None, right: Value | None) -> tuple[Any, Any] | None:
    """Both sides as comparable Python values, or None when `<` and friends are false (a missing
    operand, two different types, or a type without an order)."""
    if left is None or right is None:
        return None
    name = kind(left)
    if name != kind(right) or name not in SCALAR_TYPES:
        return None
    return _sortable(left), _sortable(right)


def sort_key(value: Value) -> Any:
    """The order DynamoDB keeps a key attribute in (S by code point = UTF-8 byte order)."""
    return _sortable(value)


def size(value: Value) -> int:
    name = kind(value)
    if name == "S":
        return len(value["S"])
    if name == "B":
        return len(value["B"])
    if name in (*SET_TYPES, "L", "M"):
        return len(value[name])
    raise TypeMismatch(f"size() of {name}")


def add(current: Value | None, operand: Value) -> Value:
    """ADD: a number is incremented (from 0 when absent), a set gains members."""
    name = kind(operand)
    if current is None:
        return copy_value(operand)
    if kind(current) != name:
        raise TypeMismatch(f"ADD of {name} to {kind(current)}")
    if name == "N":
        return number_value(number(current) + number(operand))
    if name in SET_TYPES:
        return _union(current, operand)
    raise TypeMismatch(f"ADD of {name}")


def _union(current: Value, operand: Value) -> Value:
    name = kind(current)
    members = list(current[name])
    seen = _set_members(current)
    for member in operand[name]:
        probe = Decimal(member) if name == "NS" else member
        if probe not in seen:
            members.append(member)
            seen = seen | {probe}
    return {name: members}


def delete(current: Value | None, operand: Value) -> Value | None:
    """DELETE: members leave a set; an emptied set leaves the item (None)."""
    name = kind(operand)
    if name not in SET_TYPES:
        raise TypeMismatch(f"DELETE of {name}")
    if current is None:
        return None
    if kind(current) != name:
        raise TypeMismatch(f"DELETE of {name} from {kind(current)}")
    gone = _set_members(operand)
    left = [m for m in current[name] if (Decimal(m) if name == "NS" else m) not in gone]
    return {name: left} if left else None


def arithmetic(operator: str, left: Value | None, right: Value | None) -> Value:
    if left is None or right is None or kind(left) != "N" or kind(right) != "N":
        raise TypeMismatch(f"operand of {operator!r} is not a number")
    if operator == "+":
        return number_value(number(left) + number(right))
    return number_value(number(left) - number(right))


def copy_value(value: Value) -> Value:
    name = kind(value)
    inner = value[name]
    if name in (*SET_TYPES,):
        return {name: list(inner)}
    if name == "L":
        return {"L": [copy_value(v) for v in inner]}
    if name == "M":
        return {"M": {k: copy_value(v) for k, v in inner.items()}}
    return {name: inner}


def copy_item(item: Item) -> Item:
    return {name: copy_value(value) for name, value in item.items()}


def well_formed(value: Any) -> bool:
    """One known type with a value of the right shape (sets non-empty, as DynamoDB requires)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    name, inner = next(iter(value.items()))
    if name in ("S", "N"):
        return isinstance(inner, str) and (name == "S" or _is_number(inner))
    if name == "B":
        return isinstance(inner, bytes | bytearray)
    if name in ("BOOL", "NULL"):
        return isinstance(inner, bool)
    if name in SET_TYPES:
        return isinstance(inner, list) and bool(inner) and len(set(map(str, inner))) == len(inner)
    if name == "L":
        return isinstance(inner, list) and all(well_formed(v) for v in inner)
    if name == "M":
        return isinstance(inner, dict) and all(well_formed(v) for v in inner.values())
    return False


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except ArithmeticError:
        return False
