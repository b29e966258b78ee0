"""Fix ``dynamodb_expression_cache``: each distinct expression string is tokenised and parsed once.

Why (measured on moto 5.2.5, a 30-item matcher transaction, cProfile): every ConditionExpression
is lexed with seven regular expressions per token three times per operation (request validation,
the transaction's check, then again inside put_item/update_item), and every UpdateExpression is
tokenised and parsed into an AST twice (request validation, update_item). The matcher sends the
same few expression strings over and over with different values: ~25 % of a transaction's server
time went to re-parsing identical strings.

Fix (results are unchanged; only repeated work is skipped):

* ``UpdateExpressionParser.make`` keeps the parsed AST per expression string (bounded LRU). The
  AST is never mutated by its users: request validation only reads it and the update validator
  works on its own deep copy (``Validator.__init__``), so sharing it is safe. Parse errors are not
  cached (they are raised again on every call).
* ``ConditionExpressionParser._lex_condition_expression`` keeps the token list per expression
  string and hands each call fresh token nodes (their ``children`` lists are new), so the later
  parsing stages, which substitute this request's attribute names and values, run as before.
* ``ConditionExpressionParser.parse`` keeps its result (the condition tree and the names and
  values it found) per (expression, attribute names, the attribute values *the condition
  references*), bounded LRU: the request-level validation of TransactWriteItems and the
  transaction's own check parse the same condition with the same names and values, and
  value-free conditions such as ``attribute_not_exists(pk)`` repeat across requests. The
  parser only ever reads the values its ``:placeholders`` name, so the values an Update uses
  only in its UpdateExpression (``:seq``, ``:now``... new on every call) are not part of the
  key (they made every order Update's condition a miss). The tree is immutable (its nodes only
  set attributes in ``__init__``; evaluation reads them), so one tree serves every evaluation.
  Parse errors are not cached.
* ``Node.find_clauses`` on a cached (shared, never mutated) UpdateExpression AST remembers its
  answer per clause-type list: request validation asks every Update's AST for its attribute
  name placeholders, a full traversal each time. Copies of the AST (the validator's, which
  processors change) are different objects and are always traversed.
* ``UpdateExpressionValidator`` runs its three expression-only checks (ActionCountValidator,
  OverlappingPathsValidator, UpdateHashRangeKeyValidator: ~45 % of validation time, each an
  AST traversal with a recursive ``find_clauses`` per node) once per (parsed expression,
  attribute names, table key attributes). They read nothing else, do not change the AST and
  run first, so once they passed for that input they pass again; a failing input is not
  remembered and raises every time. The item-dependent processors always run.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from ._util import replace

NAME = "dynamodb_expression_cache"

#: Distinct expression strings kept (the product uses a few dozen; tests and tools add some).
CACHE_SIZE = 4096

# id of a cached UpdateExpression AST -> (the AST, kept alive so its id cannot be reused while
# the entry exists; find_clauses answers per clause-type tuple)
_shared_asts: dict[int, tuple[Any, dict[tuple[type, ...], tuple[Any, ...]]]] = {}

# (id of the parsed AST, attribute names, table key attributes) -> the AST (kept alive so its id
# cannot be reused while the entry exists)
_checked: dict[tuple[int, tuple[tuple[str, str], ...], tuple[str, ...]], Any] = {}


# A lexed condition expression: (nonterminal, kind, text, value) per token.
_Tokens = tuple[tuple[str, str, str, Any], ...]


def _frozen(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr) if value else ""


def _validate_once(original_validate: Any, pure: tuple[type, ...]) -> Any:
    def validate(self: Any) -> Any:
        names = self.expression_attribute_names or {}
        key = (id(self._tulip_source), tuple(sorted(names.items())), tuple(self.table.table_key_attrs))
        if _checked.get(key) is not self._tulip_source:
            result = original_validate(self)
            if len(_checked) >= CACHE_SIZE:
                _checked.clear()
            _checked[key] = self._tulip_source
            return result
        node = self.node_to_validate
        for processor in self.processors:
            if not isinstance(processor, pure):
                node = processor.traverse(node)
        return node

    return validate


def apply() -> None:
    _cache_update_expressions()
    tokens = _cache_condition_lexing()
    _cache_condition_parsing(tokens)
    _validate_expression_checks_once()


def _cache_update_expressions() -> None:
    """``UpdateExpressionParser.make`` parses each expression string once; ``Node.find_clauses``
    answers once per clause-type list on such a shared AST."""
    # moto's parsing modules are "# type: ignore" files: reach them untyped.
    UpdateExpressionParser = importlib.import_module(
        "moto.dynamodb.parsing.expressions"
    ).UpdateExpressionParser

    original_make = UpdateExpressionParser.make.__func__

    @functools.lru_cache(maxsize=CACHE_SIZE)
    def parsed(cls: type, expression_str: str) -> Any:
        return original_make(cls, expression_str)

    def make(cls: type, expression_str: str) -> Any:
        if not isinstance(expression_str, str):  # unhashable or odd input: moto's own path
            return original_make(cls, expression_str)
        ast = parsed(cls, expression_str)
        if id(ast) not in _shared_asts:
            if len(_shared_asts) >= CACHE_SIZE:
                _shared_asts.clear()
            _shared_asts[id(ast)] = (ast, {})
        return ast

    replace(UpdateExpressionParser, "make", classmethod(make))

    Node = importlib.import_module("moto.dynamodb.parsing.ast_nodes").Node
    original_find_clauses = Node.find_clauses

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        entry = _shared_asts.get(id(self))
        if entry is None or entry[0] is not self:
            return list(original_find_clauses(self, clause_types))
        key = tuple(clause_types)
        found = entry[1].get(key)
        if found is None:
            found = entry[1][key] = tuple(original_find_clauses(self, clause_types))
        return list(found)  # callers get their own list, as before

    replace(Node, "find_clauses", find_clauses)


def _cache_condition_lexing() -> Callable[[str], _Tokens]:
    """``ConditionExpressionParser._lex_condition_expression`` lexes each expression string once
    and hands every call fresh token nodes. Returns the cached lexer (the parse cache uses it)."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original_lex = ConditionExpressionParser._lex_condition_expression

    @functools.lru_cache(maxsize=CACHE_SIZE)
    def tokens(expression: str) -> _Tokens:
        lexer = ConditionExpressionParser(expression, None, None)
        return tuple((n.nonterminal, n.kind, n.text, n.value) for n in original_lex(lexer))

    def lex(self: Any) -> deque[Any]:
        expression = self.condition_expression
        if not isinstance(expression, str):
            return original_lex(self)
        node = self.Node
        return deque(node(nt, kind, text, value, []) for nt, kind, text, value in tokens(expression))

    replace(ConditionExpressionParser, "_lex_condition_expression", lex)
    return tokens


def _cache_condition_parsing(tokens: Callable[[str], _Tokens]) -> None:
    """``ConditionExpressionParser.parse`` keeps its result per (expression, attribute names, the
    attribute values the condition references), bounded LRU."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original_parse = ConditionExpressionParser.parse
    parsed_conditions: OrderedDict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = OrderedDict()

    @functools.lru_cache(maxsize=CACHE_SIZE)
    def value_placeholders(expression: str) -> tuple[str, ...]:
        return tuple(sorted({text for _, _, text, _ in tokens(expression) if text.startswith(":")}))

    def parse(self: Any) -> Any:
        expression = self.condition_expression
        if not expression or not isinstance(expression, str):
            return original_parse(self)
        try:
            used = value_placeholders(expression)
        except Exception:
            return original_parse(self)  # moto raises its own lexing error
        values = self.expression_attribute_values or {}
        referenced = {name: values[name] for name in used if name in values}
        key = (expression, _frozen(self.expression_attribute_names), _frozen(referenced))
        hit = parsed_conditions.get(key)
        if hit is None:
            op = original_parse(self)
            hit = (op, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            parsed_conditions[key] = hit
            if len(parsed_conditions) > CACHE_SIZE:
                parsed_conditions.popitem(last=False)
            return op
        parsed_conditions.move_to_end(key)
        op, names_found, values_found = hit
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return op

    replace(ConditionExpressionParser, "parse", parse)


def _validate_expression_checks_once() -> None:
    """``UpdateExpressionValidator`` runs its three expression-only checks once per (parsed
    expression, attribute names, table key attributes); the item-dependent processors always run."""
    from moto.dynamodb.parsing.validators import (
        ActionCountValidator,
        OverlappingPathsValidator,
        UpdateExpressionValidator,
        UpdateHashRangeKeyValidator,
    )

    original_init = UpdateExpressionValidator.__init__

    def init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, expression, *args, **kwargs)
        self._tulip_source = expression

    replace(UpdateExpressionValidator, "__init__", init)
    pure = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)
    replace(UpdateExpressionValidator, "validate", _validate_once(UpdateExpressionValidator.validate, pure))
