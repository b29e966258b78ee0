"""Evaluating parsed expressions against an item, as DynamoDB does.

`Scope` resolves #names and :values. Conditions: a missing attribute makes a comparison false
(`<>` true), values of different types are unequal and unordered. Updates evaluate every operand
on the item as it was before the update and return a new item (the old one is never changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.sim.ddb import values as v
from tests.sim.ddb.expressions import (
    And,
    Arithmetic,
    Between,
    Compare,
    Condition,
    ExpressionError,
    Function,
    IfNotExists,
    In,
    ListAppend,
    Not,
    Operand,
    Or,
    Path,
    Size,
    Update,
    ValueRef,
)
from tests.sim.ddb.values import Item, Value


@dataclass(frozen=True, slots=True)
class Scope:
    names: Mapping[str, str]
    values: Mapping[str, Value]

    def name(self, element: str) -> str:
        if element.startswith("#"):
            return self.names[element]
        return element

    def value(self, ref: ValueRef) -> Value:
        return self.values[ref.name]


# ------------------------------------------------------------------------------------ paths
def resolve(path: Path, scope: Scope) -> tuple[str | int, ...]:
    return tuple(scope.name(e) if isinstance(e, str) else e for e in path.elements)


def get(item: Item, elements: tuple[str | int, ...]) -> Value | None:
    head = elements[0]
    assert isinstance(head, str)
    current: Value | None = item.get(head)
    for element in elements[1:]:
        current = _child(current, element)
    return current


def _child(value: Value | None, element: str | int) -> Value | None:
    if value is None:
        return None
    if isinstance(element, int):
        items = value.get("L")
        return items[element] if items is not None and element < len(items) else None
    members = value.get("M")
    return members.get(element) if members is not None else None


# ------------------------------------------------------------------------------------ operands
def operand(node: Operand, item: Item, scope: Scope) -> Value | None:
    if isinstance(node, ValueRef):
        return scope.value(node)
    if isinstance(node, Path):
        return get(item, resolve(node, scope))
    if isinstance(node, Size):
        target = get(item, resolve(node.path, scope))
        return None if target is None else {"N": str(_size(target))}
    if isinstance(node, IfNotExists):
        current = get(item, resolve(node.path, scope))
        return current if current is not None else operand(node.default, item, scope)
    if isinstance(node, ListAppend):
        return _list_append(operand(node.first, item, scope), operand(node.second, item, scope))
    return _arithmetic(node, item, scope)


def _size(target: Value) -> int:
    try:
        return v.size(target)
    except v.TypeMismatch:
        raise ExpressionError("Invalid ConditionExpression: Incorrect operand type for operator "
                              f"or function; operator or function: size, operand type: "
                              f"{v.kind(target)}") from None


def _list_append(first: Value | None, second: Value | None) -> Value:
    if first is None or second is None or v.kind(first) != "L" or v.kind(second) != "L":
        raise ExpressionError("Invalid UpdateExpression: Incorrect operand type for operator or "
                              "function; operator or function: list_append, operand type: "
                              f"{'M' if first is None or second is None else 'S'}")
    return {"L": [*first["L"], *second["L"]]}


def _arithmetic(node: Arithmetic, item: Item, scope: Scope) -> Value:
    left, right = operand(node.left, item, scope), operand(node.right, item, scope)
    if left is None or right is None:
        raise ExpressionError("The provided expression refers to an attribute that does not "
                              "exist in the item")
    try:
        return v.arithmetic(node.operator, left, right)
    except v.TypeMismatch:
        raise ExpressionError("An operand in the update expression has an incorrect data "
                              "type") from None


# ------------------------------------------------------------------------------------ conditions
def holds(node: Condition, item: Item, scope: Scope) -> bool:
    if isinstance(node, And):
        return holds(node.left, item, scope) and holds(node.right, item, scope)
    if isinstance(node, Or):
        return holds(node.left, item, scope) or holds(node.right, item, scope)
    if isinstance(node, Not):
        return not holds(node.operand, item, scope)
    if isinstance(node, Compare):
        return compare(node.operator, operand(node.left, item, scope),
                       operand(node.right, item, scope))
    if isinstance(node, Between):
        subject = operand(node.subject, item, scope)
        return (compare(">=", subject, operand(node.low, item, scope))
                and compare("<=", subject, operand(node.high, item, scope)))
    if isinstance(node, In):
        subject = operand(node.subject, item, scope)
        return any(v.equal(subject, operand(o, item, scope)) for o in node.options
                   if subject is not None)
    return function(node, item, scope)


def compare(operator: str, left: Value | None, right: Value | None) -> bool:
    if operator == "=":
        return left is not None and v.equal(left, right)
    if operator == "<>":
        return not v.equal(left, right)
    pair = v.ordered(left, right)
    if pair is None:
        return False
    a, b = pair
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator])


def function(node: Function, item: Item, scope: Scope) -> bool:
    target = get(item, resolve(node.path, scope))
    if node.name == "attribute_exists":
        return target is not None
    if node.name == "attribute_not_exists":
        return target is None
    assert node.argument is not None
    argument = operand(node.argument, item, scope)
    if target is None or argument is None:
        return False
    if node.name == "attribute_type":
        return v.kind(target) == argument.get("S")
    if node.name == "begins_with":
        return _begins_with(target, argument)
    return _contains(target, argument)


def _begins_with(target: Value, prefix: Value) -> bool:
    kind = v.kind(target)
    if kind not in ("S", "B") or v.kind(prefix) != kind:
        return False
    return bool(target[kind].startswith(prefix[kind]))


def _contains(target: Value, member: Value) -> bool:
    kind = v.kind(target)
    if kind == "S":
        return v.kind(member) == "S" and member["S"] in target["S"]
    if kind in v.SET_TYPES:
        return v.kind(member) == kind[0] and any(
            v.equal({kind[0]: m}, member) for m in target[kind])
    if kind == "L":
        return any(v.equal(element, member) for element in target["L"])
    return False


# ------------------------------------------------------------------------------------ updates
def apply_update(update: Update, item: Item, scope: Scope) -> Item:
    """The item after the update (a new dict; `item` is left as it was)."""
    new = dict(item)
    for path, value_node in update.sets:
        _put(new, resolve(path, scope), operand(value_node, item, scope))
    for path in update.removes:
        _remove(new, resolve(path, scope))
    for path, ref in update.adds:
        elements = resolve(path, scope)
        _put(new, elements, _typed(v.add, get(item, elements), scope.value(ref), "ADD"))
    for path, ref in update.deletes:
        elements = resolve(path, scope)
        _put(new, elements, _typed(v.delete, get(item, elements), scope.value(ref), "DELETE"))
    return new


def _typed(operation: Any, current: Value | None, value: Value, name: str) -> Value | None:
    try:
        result: Value | None = operation(current, value)
    except v.TypeMismatch:
        shown = v.kind(value) if current is None or v.kind(current) == v.kind(value) else (
            v.kind(current))
        raise ExpressionError("Invalid UpdateExpression: Incorrect operand type for operator or "
                              f"function; operator: {name}, operand type: "
                              f"{_TYPE_NAMES.get(shown, shown)}") from None
    return result


_TYPE_NAMES = {"S": "STRING", "N": "NUMBER", "B": "BINARY", "BOOL": "BOOLEAN", "NULL": "NULL",
               "L": "LIST", "M": "MAP", "SS": "STRING SET", "NS": "NUMBER SET",
               "BS": "BINARY SET"}


def _put(item: Item, elements: tuple[str | int, ...], value: Value | None) -> None:
    head = elements[0]
    assert isinstance(head, str)
    if len(elements) == 1:
        if value is None:
            item.pop(head, None)
        else:
            item[head] = value
        return
    item[head] = _put_child(_existing(item.get(head)), elements[1:], value)


def _put_child(parent: Value, elements: tuple[str | int, ...], value: Value | None) -> Value:
    element, rest = elements[0], elements[1:]
    if isinstance(element, str) and "M" in parent:
        members = dict(parent["M"])
        _set_or_drop(members, element, value if not rest else _put_child(
            _existing(members.get(element)), rest, value))
        return {"M": members}
    if isinstance(element, int) and "L" in parent:
        items = list(parent["L"])
        _set_in_list(items, element, value if not rest else _put_child(
            _existing(items[element] if element < len(items) else None), rest, value))
        return {"L": items}
    raise _invalid_document_path()


def _existing(value: Value | None) -> Value:
    if value is None:
        raise _invalid_document_path()
    return value


def _invalid_document_path() -> ExpressionError:
    return ExpressionError("The document path provided in the update expression is invalid for "
                           "update")


def _set_or_drop(members: dict[str, Value], name: str, value: Value | None) -> None:
    if value is None:
        members.pop(name, None)
    else:
        members[name] = value


def _set_in_list(elements: list[Value], index: int, value: Value | None) -> None:
    if value is None:
        if index < len(elements):
            del elements[index]
    elif index < len(elements):
        elements[index] = value
    else:
        elements.append(value)


def _remove(item: Item, elements: tuple[str | int, ...]) -> None:
    if len(elements) == 1 or get(item, elements[:-1]) is not None:
        try:
            _put(item, elements, None)
        except ExpressionError:
            return


# ------------------------------------------------------------------------------------ projection
def project(item: Item, paths: tuple[Path, ...], scope: Scope) -> Item:
    """The attributes a ProjectionExpression names (top-level names; nested paths keep their
    enclosing maps and lists with only the named parts)."""
    out: Item = {}
    for path in paths:
        elements = resolve(path, scope)
        found = get(item, elements)
        if found is None:
            continue
        if len(elements) == 1:
            out[str(elements[0])] = found
        else:
            _merge_nested(out, elements, found)
    return out


def _merge_nested(out: Item, elements: tuple[str | int, ...], found: Value) -> None:
    head = str(elements[0])
    wrapped = found
    for element in reversed(elements[1:]):
        wrapped = {"L": [wrapped]} if isinstance(element, int) else {"M": {element: wrapped}}
    out[head] = _merge(out.get(head), wrapped)


def _merge(existing: Value | None, new: Value) -> Value:
    if existing is None:
        return new
    if "M" in existing and "M" in new:
        members = dict(existing["M"])
        for name, value in new["M"].items():
            members[name] = _merge(members.get(name), value)
        return {"M": members}
    if "L" in existing and "L" in new:
        return {"L": [*existing["L"], *new["L"]]}
    return new
