"""Fix ``dynamodb_simple_updates``: a plain SET/ADD/REMOVE UpdateExpression skips the generic AST pass.

Why (measured on moto 5.2.5 with the other fixes applied, a 31-item matcher TransactWriteItems,
cProfile): the order and shard Updates were ~70 % of the transaction's server time, ~1,600 Python
calls each, although every one of them has the simplest shape an update can have:
``SET #st = :status, filledQty = :filled, ... ADD filledNotionalTicks :n REMOVE openSymbol, openSort``.
Per update moto deep-copies the parsed AST, runs seven depth-first processors over it (value
substitution, name resolution, function evaluation, type checks...), re-measures the whole item
for every attribute it sets (``LimitedSizeDict.__setitem__`` is O(attributes)), and deep-copies
the item twice (stream image, transaction undo entry). Real DynamoDB's transaction latency is
nearly flat in the item count, so this per-item cost made the stand-in punish group commit.

Fix: an UpdateExpression whose every action is ``SET <name> = <:value>``, ``ADD <name> <:number>``
or ``REMOVE <name>`` (one top-level attribute per action, written plainly or as ``#placeholder``;
no functions, arithmetic, nested paths or list indexes) on an *existing* item, without
``Expected``/``AttributeUpdates``/ConditionExpression (the transaction evaluates its condition
itself, see ``dynamodb_transactions``), is applied directly:

* every check moto would make is made first, and whenever one *could* fail the update is handed
  to moto's own code untouched (nothing has been changed yet), so each error is moto's, raised by
  moto: a missing value or name placeholder, a reserved word used as a name, SET of a defined
  (key/index) attribute with another type or of an empty string/binary to a key attribute,
  ADD of a non-number or to a non-number, an item that could pass the 400 KB limit (bounded
  conservatively: old size plus every written value);
* the checks that depend only on the expression, its names and the table's key attributes
  (one SET/ADD/REMOVE clause each, no overlapping paths, no key attribute updated) are moto's
  own: the first update of each such combination goes through moto's code, and only once it
  succeeded does the combination take this path;
* the result is a *new* Item object replacing the old one in the table (moto mutates in place):
  SET stores ``DynamoType(value)``, ADD stores ``existing + value`` with moto's own number
  arithmetic (``DynamoType.__add__``, which normalises the text as moto does), REMOVE drops the
  attribute. The old object is left untouched, so it *is* the stream record's old image and the
  transaction's undo entry: no deep copy. Anything that keeps an Item (stream records serialise
  at creation; the undo log) is unaffected by the swap.

Stream records, returned items and every stored attribute are the same as moto's (see
``tests/integration/devstack/test_dynamodb_simple_updates.py``, which compares against stock
moto, including the failing cases).
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from ._util import replace

NAME = "dynamodb_simple_updates"

#: Distinct expression strings whose plan is kept, and validated combinations remembered.
CACHE_SIZE = 4096
#: moto's per-item limit (dynamo_type.LimitedSizeDict).
MAX_ITEM_BYTES = 405_000

SET, ADD, REMOVE = "SET", "ADD", "REMOVE"

# (action, attribute text, text is a #placeholder, value placeholder or None), in execution order
Plan = tuple[tuple[str, str, bool, str | None], ...]

# (expression, attribute names, table key attributes) whose expression-only checks passed in moto
_validated: set[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]]] = set()

#: Set by ``apply()``: the transaction (``dynamodb_transactions``) asks it before its own update.
enabled = False


def _build_plan(expression: str) -> Plan | None:
    """The actions of a simple expression, in moto's execution order; None if not simple."""
    # moto's parsing modules are "# type: ignore" files: reach them untyped.
    nodes = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    parser = importlib.import_module("moto.dynamodb.parsing.expressions").UpdateExpressionParser
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    try:
        ast = parser.make(expression)
    except Exception:
        return None  # moto raises its own parse error
    containers = (
        nodes.UpdateExpression, nodes.UpdateExpressionSetClause, nodes.UpdateExpressionSetActions,
        nodes.UpdateExpressionAddClause, nodes.UpdateExpressionAddActions,
        nodes.UpdateExpressionRemoveClause, nodes.UpdateExpressionRemoveActions,
    )
    reserved = ReservedKeywords.get_reserved_keywords()
    actions: list[tuple[str, str, bool, str | None]] = []

    def attribute(path: Any) -> tuple[str, bool] | None:
        if type(path) is not nodes.UpdateExpressionPath or len(path.children) != 1:
            return None
        (leaf,) = path.children
        if type(leaf) is nodes.ExpressionAttributeName:
            return leaf.get_attribute_name_placeholder(), True
        if type(leaf) is nodes.ExpressionAttribute:
            name = leaf.get_attribute_name()
            return None if name.upper() in reserved else (name, False)
        return None

    def value_placeholder(node: Any) -> str | None:
        return node.get_value_name() if type(node) is nodes.ExpressionAttributeValue else None

    def walk(node: Any) -> bool:
        kind = type(node)
        if kind is nodes.UpdateExpressionSetAction:
            target = attribute(node.children[0])
            wrapper = node.children[1]
            if (target is None or type(wrapper) is not nodes.UpdateExpressionValue
                    or len(wrapper.children) != 1):
                return False
            value = value_placeholder(wrapper.children[0])
            if value is None:
                return False
            actions.append((SET, *target, value))
            return True
        if kind is nodes.UpdateExpressionAddAction:
            target = attribute(node.children[0])
            value = value_placeholder(node.children[1]) if len(node.children) == 2 else None
            if target is None or value is None:
                return False
            actions.append((ADD, *target, value))
            return True
        if kind is nodes.UpdateExpressionRemoveAction:
            target = attribute(node.children[0]) if len(node.children) == 1 else None
            if target is None:
                return False
            actions.append((REMOVE, *target, None))
            return True
        if kind in containers:
            return all(walk(child) for child in node.children or ())
        return False  # DELETE, functions, arithmetic, nested paths, selectors...

    if not walk(ast):
        return None
    # moto's normalize(): actions in textual order, each run of REMOVEs sorted in reverse. The
    # attributes are distinct (moto's overlap check) and top-level, so reordering REMOVEs changes
    # nothing and the textual order is the execution order.
    return tuple(actions)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _plan(expression: str) -> Plan | None:
    return _build_plan(expression)


def _keys(table: Any, key: dict[str, Any]) -> tuple[Any, Any] | None:
    """moto's update_item key handling, for the plain case only (else None: moto's code runs)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if table.hash_key_attr not in key:
        return None
    if table.range_key_attr is None:
        return DynamoType(key[table.hash_key_attr]), None
    if table.range_key_attr not in key:
        return None
    return DynamoType(key[table.hash_key_attr]), DynamoType(key[table.range_key_attr])


def _combination(expression: str, names: dict[str, str], table: Any) -> tuple[Any, ...]:
    return expression, tuple(sorted(names.items())), tuple(table.table_key_attrs)


def _size_bound(attrs: dict[str, Any]) -> int:
    """At least moto's size of these attributes (``bytesize(name) + DynamoType.size()`` summed),
    cheaply: UTF-8 takes at most 4 bytes per character and exactly one for ASCII; a number's
    size is its text length; other types are measured by moto."""
    total = 0
    for name, value in attrs.items():
        total += len(name) if name.isascii() else 4 * len(name)
        text = value.value
        if value.type == "S" and type(text) is str:
            total += len(text) if text.isascii() else 4 * len(text)
        elif value.type == "N" and type(text) is str:
            total += len(text)
        else:
            total += value.size()
    return total


def try_update(backend: Any, table_name: str, key: dict[str, Any], update_expression: str | None,
               expression_attribute_names: dict[str, str] | None,
               expression_attribute_values: dict[str, Any] | None) -> tuple[Any, Any, Any, Any] | None:
    """Apply a simple update by replacing the item. Returns (table, hash key, range key, the item
    as it was: untouched, so a valid undo entry) or None, having changed nothing, when moto's own
    code must handle the request."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    if not isinstance(update_expression, str):
        return None
    plan = _plan(update_expression)
    if not plan:
        return None
    table = backend.get_table(table_name)
    keys = _keys(table, key)
    if keys is None:
        return None
    hash_key, range_key = keys
    old = table.get_item(hash_key, range_key)
    if old is None:
        return None  # creating the item: moto's path (with dynamodb_update_insert's stream fix)
    names = expression_attribute_names or {}
    values = expression_attribute_values or {}
    if _combination(update_expression, names, table) not in _validated:
        return None
    defined = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
    attrs = dict(old.attrs)
    written = 0
    for action, text, is_placeholder, value_name in plan:
        if is_placeholder:
            if text not in names:
                return None
            name = names[text]
        else:
            name = text
        if action == REMOVE:
            attrs.pop(name, None)
            continue
        if value_name not in values:
            return None
        value = DynamoType(values[value_name])
        if action == SET:
            # moto's TypeMismatchValidator / EmptyStringKeyValueValidator look at the raw path text.
            if text in defined and defined[text] != value.type:
                return None
            if not value.value and value.type in ("S", "B") and text in table.attribute_keys:
                return None
        else:  # ADD of a number, as moto's AddExecutor
            if value.type != "N":
                return None
            existing = attrs.get(name, DynamoType({"N": "0"}))
            if existing.type != "N":
                return None
            try:
                value = existing + value
            except Exception:
                return None
        attrs[name] = value
        written += bytesize(name) + value.size()
    # moto checks "attributes so far + this one > limit" on every write; staying under the old size
    # plus everything written means no such check can fail.
    if written and _size_bound(old.attrs) + written > MAX_ITEM_BYTES:
        return None
    new: Any = Item.__new__(Item)
    new.hash_key, new.range_key = old.hash_key, old.range_key
    new.attrs = LimitedSizeDict(attrs)  # dict.update: no per-attribute re-measuring
    if range_key is not None:
        table.items[hash_key][range_key] = new
    else:
        table.items[hash_key] = new
    if table.stream_shard is not None:
        table.stream_shard.add(old, new)
    return table, hash_key, range_key, old


def apply() -> None:
    global enabled
    from moto.dynamodb.models import DynamoDBBackend

    original_update_item = DynamoDBBackend.update_item
    if getattr(original_update_item, "__tulip_simple_updates__", False):
        enabled = True
        return

    def update_item(self: Any, table_name: str, key: dict[str, Any], update_expression: str,
                    expression_attribute_names: dict[str, Any],
                    expression_attribute_values: dict[str, Any],
                    attribute_updates: dict[str, Any] | None = None,
                    expected: dict[str, Any] | None = None,
                    condition_expression: str | None = None,
                    return_values_on_condition_check_failure: str | None = None) -> Any:
        plain = not attribute_updates and not expected and condition_expression is None
        if plain:
            done = try_update(self, table_name, key, update_expression,
                              expression_attribute_names, expression_attribute_values)
            if done is not None:
                table, hash_key, range_key, _ = done
                return table.get_item(hash_key, range_key)
        result = original_update_item(
            self, table_name, key, update_expression, expression_attribute_names,
            expression_attribute_values, attribute_updates=attribute_updates, expected=expected,
            condition_expression=condition_expression,
            return_values_on_condition_check_failure=return_values_on_condition_check_failure)
        if plain and isinstance(update_expression, str) and _plan(update_expression):
            # moto's code accepted this expression with these names on this table: its
            # expression-only checks pass for every later update of the same combination.
            if len(_validated) >= CACHE_SIZE:
                _validated.clear()
            _validated.add(_combination(update_expression, expression_attribute_names or {},
                                        self.get_table(table_name)))
        return result

    update_item.__tulip_simple_updates__ = True  # type: ignore[attr-defined]
    replace(DynamoDBBackend, "update_item", update_item)
    enabled = True
