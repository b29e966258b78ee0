"""The simulated DynamoDB service: the operations this project sends, evaluated as DynamoDB does.

`SimDynamoDB.call(operation, request)` takes the request dict the real code built (boto3's or
PynamoDB's, both the wire shape) and returns the response dict or raises `DynamoError` with the
error code, message and, for a cancelled transaction, one cancellation reason per item.

Operations: GetItem, PutItem, UpdateItem, DeleteItem, TransactWriteItems (all-or-nothing, one
operation per item, ClientRequestToken idempotency for 10 minutes as botocore sends one),
BatchGetItem, Query (table and indexes, ScanIndexForward, Limit, ExclusiveStartKey) and Scan, with
Condition/KeyCondition/Filter/Projection/Update expressions (tests/sim/ddb/expressions.py). A
parameter outside this subset is refused loudly (NotImplementedError), never ignored.

Known difference from moto (the local stand-in): a Query or Scan stopped by `Limit` returns
`LastEvaluatedKey` as DynamoDB does, even when no item follows; moto only when one does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tests.sim.ddb import evaluate, expressions
from tests.sim.ddb import values as v
from tests.sim.ddb.evaluate import Scope
from tests.sim.ddb.expressions import ExpressionError
from tests.sim.ddb.table import KeyProblem, KeySchema, KeyTuple, Table, position
from tests.sim.ddb.values import Item

IDEMPOTENCY_WINDOW_S = 600.0  # ClientRequestToken: a repeat within 10 minutes is a no-op
MAX_TRANSACTION_ITEMS = 100
MAX_BATCH_GET_KEYS = 100
MAX_BATCH_WRITE_ITEMS = 25


class DynamoError(Exception):
    def __init__(self, code: str, message: str,
                 reasons: list[dict[str, str]] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.reasons = reasons


def _validation(message: str) -> DynamoError:
    return DynamoError("ValidationException", message)


CONDITION_FAILED = "The conditional request failed"
OPERATIONS = {"GetItem": "get_item", "PutItem": "put_item", "UpdateItem": "update_item",
              "DeleteItem": "delete_item", "TransactWriteItems": "transact_write_items",
              "BatchGetItem": "batch_get_item", "BatchWriteItem": "batch_write_item",
              "Query": "query", "Scan": "scan",
              "DescribeTable": "describe_table"}
_COMMON = {"TableName", "ExpressionAttributeNames", "ExpressionAttributeValues",
           "ReturnConsumedCapacity"}
ACCEPTED = {
    "GetItem": _COMMON | {"Key", "ConsistentRead", "ProjectionExpression"},
    "PutItem": _COMMON | {"Item", "ConditionExpression", "ReturnValues"},
    "UpdateItem": _COMMON | {"Key", "UpdateExpression", "ConditionExpression", "ReturnValues"},
    "DeleteItem": _COMMON | {"Key", "ConditionExpression", "ReturnValues"},
    "Query": _COMMON | {"IndexName", "KeyConditionExpression", "FilterExpression",
                        "ProjectionExpression", "ScanIndexForward", "Limit", "ExclusiveStartKey",
                        "ConsistentRead"},
    "Scan": _COMMON | {"IndexName", "FilterExpression", "ProjectionExpression", "Limit",
                       "ExclusiveStartKey", "ConsistentRead"},
    "BatchGetItem": {"RequestItems", "ReturnConsumedCapacity"},
    "BatchWriteItem": {"RequestItems", "ReturnConsumedCapacity", "ReturnItemCollectionMetrics"},
    "DescribeTable": {"TableName"},
    "TransactWriteItems": {"TransactItems", "ClientRequestToken", "ReturnConsumedCapacity",
                           "ReturnItemCollectionMetrics"},
}


# ------------------------------------------------------------------------------------ expressions
@dataclass(frozen=True, slots=True)
class Parsed:
    """A request's expressions, parsed and checked against its names and values."""

    scope: Scope
    condition: expressions.Condition | None = None
    update: expressions.Update | None = None
    projection: tuple[expressions.Path, ...] | None = None
    key_condition: expressions.Condition | None = None
    filter: expressions.Condition | None = None


_PARSERS: dict[str, Callable[[str], object]] = {
    "ConditionExpression": expressions.parse_condition,
    "UpdateExpression": expressions.parse_update,
    "ProjectionExpression": expressions.parse_projection,
    "KeyConditionExpression": lambda t: expressions.parse_condition(t, "KeyConditionExpression"),
    "FilterExpression": lambda t: expressions.parse_condition(t, "FilterExpression"),
}
_FIELDS = {"ConditionExpression": "condition", "UpdateExpression": "update",
           "ProjectionExpression": "projection", "KeyConditionExpression": "key_condition",
           "FilterExpression": "filter"}


def parse_request(request: dict[str, Any]) -> Parsed:
    names: dict[str, str] = request.get("ExpressionAttributeNames") or {}
    values: dict[str, Any] = request.get("ExpressionAttributeValues") or {}
    _check_values(request, values)
    trees: dict[str, object] = {}
    for field, parser in _PARSERS.items():
        if field in request:
            trees[field] = _parse(parser, request[field])
    _check_placeholders(trees, names, values)
    return Parsed(Scope(names, values), **{_FIELDS[f]: t for f, t in trees.items()})  # type: ignore[arg-type]


def _parse(parser: Callable[[str], object], text: Any) -> object:
    try:
        return parser(text)
    except ExpressionError as exc:
        raise _validation(str(exc)) from None


def _check_values(request: dict[str, Any], values: dict[str, Any]) -> None:
    if "ExpressionAttributeValues" in request and not values:
        raise _validation("ExpressionAttributeValues must not be empty")
    for name, value in values.items():
        if not v.well_formed(value):
            raise _validation(f"ExpressionAttributeValues contains invalid value: One or more "
                              f"parameter values were invalid: {name}")


def _check_placeholders(trees: dict[str, object], names: dict[str, str],
                        values: dict[str, Any]) -> None:
    used: set[str] = set()
    for field, tree in trees.items():
        refs = expressions.placeholders(tree)
        for ref in sorted(refs):
            if ref.startswith("#") and ref not in names:
                raise _validation(f"Invalid {field}: An expression attribute name used in the "
                                  f"document path is not defined; attribute name: {ref}")
            if ref.startswith(":") and ref not in values:
                raise _validation(f"Invalid {field}: An expression attribute value used in "
                                  f"expression is not defined; attribute value: {ref}")
        used |= refs
    unused_names = sorted(set(names) - used)
    if unused_names:
        raise _validation("Value provided in ExpressionAttributeNames unused in expressions: "
                          f"keys: {{{', '.join(unused_names)}}}")
    unused_values = sorted(set(values) - used)
    if unused_values:
        raise _validation("Value provided in ExpressionAttributeValues unused in expressions: "
                          f"keys: {{{', '.join(unused_values)}}}")


def _holds(condition: expressions.Condition | None, item: Item | None, scope: Scope) -> bool:
    if condition is None:
        return True
    try:
        return evaluate.holds(condition, item or {}, scope)
    except ExpressionError as exc:
        raise _validation(str(exc)) from None


# ------------------------------------------------------------------------------------ writes
@dataclass(frozen=True, slots=True)
class Write:
    """One checked write, ready to apply: its table and key, the item before and after."""

    table: Table
    key: KeyTuple
    old: Item | None
    new: Item | None
    parsed: Parsed


class SimDynamoDB:
    def __init__(self, clock: Callable[[], float],
                 index_lag: Callable[[], float] = lambda: 0.0, region: str = "us-east-1") -> None:
        self.clock = clock
        self.region = region
        self.index_lag = index_lag
        self.tables: dict[str, Table] = {}
        self._transactions = itertools.count(1)
        self._tokens: dict[str, tuple[float, str]] = {}
        self.origin = ""  # the kind of process whose request is being served (Network sets it)

    # ---------------------------------------------------------------- tables
    def create_table(self, request: dict[str, Any]) -> Table:
        types = {d["AttributeName"]: d["AttributeType"] for d in request["AttributeDefinitions"]}
        indexes = {i["IndexName"]: _schema(i["KeySchema"], types)
                   for i in request.get("GlobalSecondaryIndexes", [])}
        table = Table(request["TableName"], _schema(request["KeySchema"], types), indexes,
                      self.clock, self.index_lag)
        self.tables[table.name] = table
        return table

    def table(self, name: Any) -> Table:
        table = self.tables.get(name) if isinstance(name, str) else None
        if table is None:
            raise DynamoError("ResourceNotFoundException", "Requested resource not found")
        return table

    def stream_arn(self, table: Table) -> str:
        return f"arn:aws:dynamodb:{self.region}:000000000000:table/{table.name}/stream/sim"

    def describe_table(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self.table(request.get("TableName"))
        return {"Table": {"TableName": table.name, "TableStatus": "ACTIVE",
                          "LatestStreamArn": self.stream_arn(table)}}

    # ---------------------------------------------------------------- dispatch
    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        accepted = ACCEPTED.get(operation)
        if accepted is None:
            raise NotImplementedError(f"the simulated DynamoDB has no {operation}")
        unknown = set(request) - accepted
        if unknown:
            raise NotImplementedError(f"{operation}: parameters outside the simulation: {unknown}")
        request = json.loads(json.dumps(request, default=_bytes_unsupported))  # a private copy
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self, OPERATIONS[operation])
        return handler(request)

    # ---------------------------------------------------------------- single-item operations
    def get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self.table(request.get("TableName"))
        parsed = parse_request(request)
        item = table.get(_key(table, request.get("Key")))
        if item is None:
            return {}
        return {"Item": _shape(item, parsed)}

    def put_item(self, request: dict[str, Any]) -> dict[str, Any]:
        write = self.put_write(request)
        self._check_condition(write)
        self._apply([write])
        return _returned(request, write)

    def update_item(self, request: dict[str, Any]) -> dict[str, Any]:
        write = self.update_write(request)
        self._check_condition(write)
        self._apply([write])
        return _returned(request, write)

    def delete_item(self, request: dict[str, Any]) -> dict[str, Any]:
        write = self.delete_write(request)
        self._check_condition(write)
        self._apply([write])
        return _returned(request, write)

    def _check_condition(self, write: Write) -> None:
        if not _holds(write.parsed.condition, write.old, write.parsed.scope):
            raise DynamoError("ConditionalCheckFailedException", CONDITION_FAILED)

    def _apply(self, writes: list[Write]) -> None:
        transaction = next(self._transactions)
        for write in writes:
            write.table.write(write.key, write.new, transaction, self.origin)

    # ---------------------------------------------------------------- building writes
    def put_write(self, request: dict[str, Any]) -> Write:
        table = self.table(request.get("TableName"))
        parsed = parse_request(request)
        item: Item = request.get("Item") or {}
        _check_item(table, item)
        key = _key_of_item(table, item)
        return Write(table, key, table.get(key), item, parsed)

    def update_write(self, request: dict[str, Any]) -> Write:
        table = self.table(request.get("TableName"))
        parsed = parse_request(request)
        key = _key(table, request.get("Key"))
        if parsed.update is None:
            raise NotImplementedError("UpdateItem without an UpdateExpression")
        _check_update_paths(table, parsed)
        old = table.get(key)
        base = old if old is not None else dict(request["Key"])
        try:
            new = evaluate.apply_update(parsed.update, base, parsed.scope)
        except ExpressionError as exc:
            raise _validation(str(exc)) from None
        _check_item(table, new)
        return Write(table, key, old, new, parsed)

    def delete_write(self, request: dict[str, Any]) -> Write:
        table = self.table(request.get("TableName"))
        parsed = parse_request(request)
        key = _key(table, request.get("Key"))
        return Write(table, key, table.get(key), None, parsed)

    def check_write(self, request: dict[str, Any]) -> Write:
        table = self.table(request.get("TableName"))
        parsed = parse_request(request)
        key = _key(table, request.get("Key"))
        old = table.get(key)
        return Write(table, key, old, old, parsed)

    # ---------------------------------------------------------------- transactions
    def transact_write_items(self, request: dict[str, Any]) -> dict[str, Any]:
        items = request.get("TransactItems") or []
        if not 1 <= len(items) <= MAX_TRANSACTION_ITEMS:
            raise _validation("1 validation error detected: Value at 'transactItems' failed to "
                              "satisfy constraint: Member must have length less than or equal "
                              f"to {MAX_TRANSACTION_ITEMS}")
        token = request.get("ClientRequestToken")
        fingerprint = json.dumps(items, sort_keys=True)
        if token is not None and self._repeated(token, fingerprint):
            return {}
        writes = [self._transaction_write(entry) for entry in items]
        _check_distinct(writes)
        reasons = [self._reason(w) for w in writes]
        if any(r["Code"] != "None" for r in reasons):
            codes = ", ".join(r["Code"] for r in reasons)
            raise DynamoError("TransactionCanceledException", "Transaction cancelled, please "
                              f"refer cancellation reasons for specific reasons [{codes}]", reasons)
        self._apply([w for w in writes if w.old is not w.new])
        if token is not None:
            self._tokens[token] = (self.clock(), fingerprint)
        return {}

    def _repeated(self, token: str, fingerprint: str) -> bool:
        """A token whose transaction succeeded within 10 minutes: the repeat changes nothing.
        (A cancelled transaction leaves no token behind: its retry is evaluated again.)"""
        seen = self._tokens.get(token)
        if seen is None or self.clock() - seen[0] > IDEMPOTENCY_WINDOW_S:
            return False
        if seen[1] != fingerprint:
            raise DynamoError("IdempotentParameterMismatchException", "The request uses the same "
                              "client token as a previous, but non-identical request.")
        return True

    def _transaction_write(self, entry: dict[str, Any]) -> Write:
        if len(entry) != 1:
            raise _validation("TransactItems can only contain one of Check, Put, Update or Delete")
        ((kind, body),) = entry.items()
        builder = {"Put": self.put_write, "Update": self.update_write,
                   "Delete": self.delete_write, "ConditionCheck": self.check_write}.get(kind)
        if builder is None:
            raise NotImplementedError(f"transaction item {kind}")
        return builder(body)

    def _reason(self, write: Write) -> dict[str, str]:
        if _holds(write.parsed.condition, write.old, write.parsed.scope):
            return {"Code": "None"}
        return {"Code": "ConditionalCheckFailed", "Message": CONDITION_FAILED}

    # ---------------------------------------------------------------- reads
    def batch_get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted: dict[str, Any] = request.get("RequestItems") or {}
        if sum(len(r.get("Keys", [])) for r in wanted.values()) > MAX_BATCH_GET_KEYS:
            raise _validation("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[Item]] = {}
        for name, spec in wanted.items():
            responses[name] = self._batch_table(name, spec)
        return {"Responses": responses, "UnprocessedKeys": {}}

    def batch_write_item(self, request: dict[str, Any]) -> dict[str, Any]:
        """Puts and deletes without conditions, each applied on its own (not a transaction: a
        stream shows them as separate changes); one request may not name a key twice."""
        wanted: dict[str, list[dict[str, Any]]] = request.get("RequestItems") or {}
        count = sum(len(entries) for entries in wanted.values())
        if not 1 <= count <= MAX_BATCH_WRITE_ITEMS:
            raise _validation("1 validation error detected: Value at 'requestItems' failed to "
                              "satisfy constraint: Member must have length less than or equal "
                              f"to {MAX_BATCH_WRITE_ITEMS}")
        writes: list[Write] = []
        for name, entries in wanted.items():
            for entry in entries:
                if "PutRequest" in entry:
                    writes.append(self.put_write({"TableName": name, **entry["PutRequest"]}))
                else:
                    writes.append(self.delete_write({"TableName": name,
                                                     **entry["DeleteRequest"]}))
        keys = [(id(w.table), w.key) for w in writes]
        if len(set(keys)) != len(keys):
            raise _validation("Provided list of item keys contains duplicates")
        for write in writes:
            self._apply([write])
        return {"UnprocessedItems": {}}

    def _batch_table(self, name: str, spec: dict[str, Any]) -> list[Item]:
        table = self.table(name)
        parsed = parse_request({k: x for k, x in spec.items()
                                if k in ("ProjectionExpression", "ExpressionAttributeNames")})
        keys = [_key(table, k) for k in spec.get("Keys", [])]
        if len(set(keys)) != len(keys):
            raise _validation("Provided list of item keys contains duplicates")
        found = (table.get(k) for k in keys)
        return [_shape(item, parsed) for item in found if item is not None]

    def query(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self.table(request.get("TableName"))
        index = _index_name(table, request)
        parsed = parse_request(request)
        if parsed.key_condition is None:
            raise _validation("Either the KeyConditions or KeyConditionExpression parameter "
                              "must be specified in the request.")
        schema = table.indexes[index] if index else table.schema
        hash_value, range_test = _key_condition(parsed.key_condition, schema, parsed.scope)
        candidates = [pair for pair in table.partition(index, hash_value) if range_test(pair[1])]
        if request.get("ScanIndexForward") is False:
            candidates.reverse()
        return _page(table, schema, candidates, request, parsed)

    def scan(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self.table(request.get("TableName"))
        if request.get("IndexName") is not None:
            raise NotImplementedError("Scan of an index")
        parsed = parse_request(request)
        return _page(table, table.schema, table.scan_order(), request, parsed)


# ------------------------------------------------------------------------------------ helpers
def _schema(key_schema: list[dict[str, str]], types: dict[str, str]) -> KeySchema:
    hash_name = next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
    range_name = next((k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"), None)
    return KeySchema(hash_name, types[hash_name], range_name,
                     types[range_name] if range_name else None)


def _bytes_unsupported(value: Any) -> Any:
    raise NotImplementedError(f"binary values are outside the simulation: {type(value)}")


def _key(table: Table, key: Any) -> KeyTuple:
    if not isinstance(key, dict) or not all(v.well_formed(x) for x in key.values()):
        raise _validation("The provided key element does not match the schema")
    try:
        return table.key_of(key)
    except KeyProblem as exc:
        raise _validation(str(exc)) from None


def _key_of_item(table: Table, item: Item) -> KeyTuple:
    try:
        key = table.schema.key_tuple(item)
    except KeyProblem as exc:
        raise _validation(str(exc)) from None
    assert key is not None
    return key


def _check_item(table: Table, item: Item) -> None:
    for name, value in item.items():
        if not v.well_formed(value):
            raise _validation(f"One or more parameter values were invalid: An invalid value was "
                              f"provided for {name}")
    for name in table.schema.names:
        if name in item and v.kind(item[name]) in ("S", "B") and not item[name][
                v.kind(item[name])]:
            raise _validation("One or more parameter values are not valid. The AttributeValue "
                              f"for a key attribute cannot contain an empty string value. Key: "
                              f"{name}")
    for index, schema in table.indexes.items():
        _check_index_types(index, schema, item)


def _check_index_types(index: str, schema: KeySchema, item: Item) -> None:
    for name, kind in ((schema.hash_name, schema.hash_type), (schema.range_name, schema.range_type)):
        if name is not None and name in item and v.kind(item[name]) != kind:
            raise _validation(f"One or more parameter values were invalid: Type mismatch for "
                              f"Index Key {name} Expected: {kind} Actual: {v.kind(item[name])} "
                              f"IndexName: {index}")


def _check_update_paths(table: Table, parsed: Parsed) -> None:
    update = parsed.update
    assert update is not None
    paths = [p for p, _ in update.sets] + list(update.removes) + [p for p, _ in update.adds] + [
        p for p, _ in update.deletes]
    resolved = [evaluate.resolve(p, parsed.scope) for p in paths]
    for elements in resolved:
        if elements[0] in table.schema.names:
            raise _validation(f"One or more parameter values were invalid: Cannot update "
                              f"attribute {elements[0]}. This attribute is part of the key")
    for first, second in itertools.combinations(resolved, 2):
        shorter = min(len(first), len(second))
        if first[:shorter] == second[:shorter]:
            raise _validation(
                "Invalid UpdateExpression: Two document paths overlap with each other; must "
                f"remove or rewrite one of these paths; path one: [{_shown(first)}], path two: "
                f"[{_shown(second)}]")


def _shown(elements: tuple[str | int, ...]) -> str:
    return ", ".join(f"[{e}]" if isinstance(e, int) else e for e in elements)


def _check_distinct(writes: list[Write]) -> None:
    seen: set[tuple[str, KeyTuple]] = set()
    for write in writes:
        identity = (write.table.name, write.key)
        if identity in seen:
            raise _validation("Transaction request cannot include multiple operations on one "
                              "item")
        seen.add(identity)


def _shape(item: Item, parsed: Parsed) -> Item:
    if parsed.projection is None:
        return v.copy_item(item)
    return v.copy_item(evaluate.project(item, parsed.projection, parsed.scope))


def _returned(request: dict[str, Any], write: Write) -> dict[str, Any]:
    mode = request.get("ReturnValues", "NONE")
    if mode == "NONE":
        return {}
    if mode == "ALL_OLD":
        return {"Attributes": v.copy_item(write.old)} if write.old else {}
    if mode == "ALL_NEW":
        return {"Attributes": v.copy_item(write.new)} if write.new else {}
    changed = _changed_names(write)
    image = write.old if mode == "UPDATED_OLD" else write.new
    picked = {n: x for n, x in (image or {}).items() if n in changed}
    return {"Attributes": v.copy_item(picked)} if picked else {}


def _changed_names(write: Write) -> set[str]:
    update = write.parsed.update
    if update is None:
        return set()
    paths = [p for p, _ in update.sets] + list(update.removes) + [p for p, _ in update.adds] + [
        p for p, _ in update.deletes]
    return {str(evaluate.resolve(p, write.parsed.scope)[0]) for p in paths}


def _index_name(table: Table, request: dict[str, Any]) -> str | None:
    index = request.get("IndexName")
    if index is None:
        return None
    if index not in table.indexes:
        raise _validation(f"The table does not have the specified index: {index}")
    if request.get("ConsistentRead"):
        raise _validation("Consistent reads are not supported on global secondary indexes")
    return str(index)


def _key_condition(condition: expressions.Condition, schema: KeySchema,
                   scope: Scope) -> tuple[v.Value, Callable[[Item], bool]]:
    """(hash key value, test of the range condition) of a KeyConditionExpression."""
    parts = _conjuncts(condition)
    hash_parts = [p for p in parts if _names_attribute(p, schema.hash_name, scope)]
    range_parts = [p for p in parts if p not in hash_parts]
    if len(hash_parts) != 1 or not isinstance(hash_parts[0], expressions.Compare) or (
            hash_parts[0].operator != "="):
        raise _validation(f"Query condition missed key schema element: {schema.hash_name}")
    if len(range_parts) > 1 or any(not _is_range_test(p, schema, scope) for p in range_parts):
        raise _validation("Query key condition not supported")
    hash_value = evaluate.operand(hash_parts[0].right, {}, scope)
    assert hash_value is not None
    if v.kind(hash_value) != schema.hash_type:
        raise _validation("One or more parameter values were invalid: Condition parameter type "
                          "does not match schema type")

    def range_test(item: Item) -> bool:
        return all(evaluate.holds(p, item, scope) for p in range_parts)

    return hash_value, range_test


def _conjuncts(condition: expressions.Condition) -> list[expressions.Condition]:
    if isinstance(condition, expressions.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]


def _subject(part: expressions.Condition) -> expressions.Operand | None:
    if isinstance(part, expressions.Compare):
        return part.left
    if isinstance(part, expressions.Between):
        return part.subject
    if isinstance(part, expressions.Function):
        return part.path
    return None


def _names_attribute(part: expressions.Condition, name: str, scope: Scope) -> bool:
    subject = _subject(part)
    return isinstance(subject, expressions.Path) and evaluate.resolve(subject, scope) == (name,)


def _is_range_test(part: expressions.Condition, schema: KeySchema, scope: Scope) -> bool:
    if schema.range_name is None or not _names_attribute(part, schema.range_name, scope):
        return False
    if isinstance(part, expressions.Compare):
        return part.operator != "<>" and isinstance(part.right, expressions.ValueRef)
    if isinstance(part, expressions.Function):
        return part.name == "begins_with"
    return isinstance(part, expressions.Between)


def _page(table: Table, schema: KeySchema, candidates: Iterable[tuple[KeyTuple, Item]],
          request: dict[str, Any], parsed: Parsed) -> dict[str, Any]:
    """Limit, ExclusiveStartKey, FilterExpression and ProjectionExpression over ordered items."""
    ordered = list(candidates)
    start = request.get("ExclusiveStartKey")
    if start is not None:
        ordered = _after(ordered, table, schema, start, request.get("ScanIndexForward", True))
    limit = request.get("Limit")
    evaluated = ordered[:limit] if limit else ordered
    matched = [item for _, item in evaluated if _holds(parsed.filter, item, parsed.scope)]
    response: dict[str, Any] = {"Items": [_shape(i, parsed) for i in matched],
                                "Count": len(matched), "ScannedCount": len(evaluated)}
    if limit and len(evaluated) == limit:
        last = evaluated[-1][1]
        names = dict.fromkeys([*table.schema.names, *schema.names])
        response["LastEvaluatedKey"] = v.copy_item({n: last[n] for n in names})
    return response


def _after(ordered: list[tuple[KeyTuple, Item]], table: Table, schema: KeySchema,
           start: dict[str, Any], forward: bool) -> list[tuple[KeyTuple, Item]]:
    """The items after ExclusiveStartKey in reading order (it need not name an existing item)."""
    if not isinstance(start, dict) or any(n not in start for n in (*table.schema.names,
                                                                    *schema.names)):
        raise _validation("The provided starting key is invalid")
    key = _key(table, {n: start[n] for n in table.schema.names})
    mark = position(schema, key, start)
    if forward:
        return [pair for pair in ordered if position(schema, *pair) > mark]
    return [pair for pair in ordered if position(schema, *pair) < mark]
