"""One simulated DynamoDB table: its items, its global secondary indexes and its stream.

Indexes project every attribute (the schema's are all `ALL`) and are sparse: an item without
an index's key attributes is not in it. Reads of an index see a lagged copy of the table: every
write reaches the indexes `index_lag()` seconds later, in write order (DynamoDB propagates to a
GSI asynchronously; a Query on a GSI is eventually consistent). The stream records each change
with both images (NEW_AND_OLD_IMAGES) and the transaction that made it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.sim.ddb import values as v
from tests.sim.ddb.values import Item, Value

KeyTuple = tuple[tuple[str, Any], ...]  # ((type, value) of the hash key[, of the range key])


class KeyProblem(Exception):
    """A missing or mistyped key attribute (a ValidationException)."""


@dataclass(frozen=True, slots=True)
class KeySchema:
    hash_name: str
    hash_type: str
    range_name: str | None = None
    range_type: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hash_name,) if self.range_name is None else (self.hash_name, self.range_name)

    def key_tuple(self, item: Item, strict: bool = True) -> KeyTuple | None:
        """The item's key; None when it lacks one (sparse index). `strict`: a missing or
        mistyped key attribute is an error (a table write), not an absence (an index)."""
        parts = []
        for name, kind in ((self.hash_name, self.hash_type), (self.range_name, self.range_type)):
            if name is None:
                continue
            value = item.get(name)
            if value is None or v.kind(value) != kind:
                if strict:
                    raise KeyProblem(_key_problem(name, kind, value))
                return None
            parts.append((kind, value[kind]))
        return tuple(parts)

    def key_item(self, item: Item) -> Item:
        return {name: item[name] for name in self.names}

    def range_order(self, item: Item) -> Any:
        return v.sort_key(item[self.range_name]) if self.range_name else 0


def _key_problem(name: str, kind: str, value: Value | None) -> str:
    if value is None:
        return f"One or more parameter values were invalid: Missing the key {name} in the item"
    return (f"One or more parameter values were invalid: Type mismatch for key {name} expected: "
            f"{kind} actual: {v.kind(value)}")


@dataclass(frozen=True, slots=True)
class StreamRecord:
    sequence: int
    table: str
    event: str  # INSERT | MODIFY | REMOVE
    keys: Item
    old: Item | None
    new: Item | None
    transaction: int  # the request (or transaction) that made it: one id for all its items
    at: float  # simulated time
    origin: str = ""  # the kind of process whose request made it (replicator: another region's)


@dataclass
class _Partitioned:
    """Items grouped by hash key, for Query (table or index)."""

    schema: KeySchema
    partitions: dict[KeyTuple, dict[KeyTuple, Item]] = field(default_factory=dict)

    def put(self, table_key: KeyTuple, old: Item | None, new: Item | None) -> None:
        if old is not None:
            old_key = self.schema.key_tuple(old, strict=False)
            if old_key is not None:
                self.partitions.get(old_key[:1], {}).pop(table_key, None)
        if new is not None:
            new_key = self.schema.key_tuple(new, strict=False)
            if new_key is not None:
                self.partitions.setdefault(new_key[:1], {})[table_key] = new

    def partition(self, hash_value: Value) -> Iterator[tuple[KeyTuple, Item]]:
        kind = v.kind(hash_value)
        yield from self.partitions.get(((kind, hash_value[kind]),), {}).items()


class Table:
    def __init__(self, name: str, schema: KeySchema, indexes: dict[str, KeySchema],
                 clock: Callable[[], float], index_lag: Callable[[], float]) -> None:
        self.name = name
        self.schema = schema
        self.indexes = indexes
        self.clock = clock
        self.index_lag = index_lag
        self.items: dict[KeyTuple, Item] = {}
        self.stream: list[StreamRecord] = []
        self._base = _Partitioned(schema)
        self._index_items: dict[KeyTuple, Item] = {}  # the lagged copy the indexes show
        self._index_parts = {name: _Partitioned(s) for name, s in indexes.items()}
        self._pending: deque[tuple[float, KeyTuple, Item | None]] = deque()
        self._last_due = 0.0

    # ---------------------------------------------------------------- keys and reads
    def key_of(self, key_item: Item) -> KeyTuple:
        if set(key_item) != set(self.schema.names):
            raise KeyProblem("The provided key element does not match the schema")
        key = self.schema.key_tuple(key_item)
        assert key is not None
        return key

    def get(self, key: KeyTuple) -> Item | None:
        return self.items.get(key)

    def partition(self, index: str | None, hash_value: Value) -> list[tuple[KeyTuple, Item]]:
        """(table key, item) of one hash key, table order: (range key, table key)."""
        if index is None:
            found = list(self._base.partition(hash_value))
            schema = self.schema
        else:
            self._catch_up()
            found = list(self._index_parts[index].partition(hash_value))
            schema = self.indexes[index]
        found.sort(key=lambda pair: position(schema, pair[0], pair[1]))
        return found

    def scan_order(self) -> list[tuple[KeyTuple, Item]]:
        return sorted(self.items.items(), key=lambda pair: position(self.schema, pair[0], pair[1]))

    # ---------------------------------------------------------------- writes
    def write(self, key: KeyTuple, new: Item | None, transaction: int, origin: str = "") -> None:
        old = self.items.get(key)
        if old == new or (old is None and new is None):
            return  # DynamoDB writes no stream record for a change that changes nothing
        if new is None:
            del self.items[key]
        else:
            self.items[key] = new
        self._base.put(key, old, new)
        self._record(key, old, new, transaction, origin)
        self._propagate(key, new)

    def _record(self, key: KeyTuple, old: Item | None, new: Item | None, transaction: int,
                origin: str) -> None:
        event = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
        image = new if new is not None else old
        assert image is not None
        self.stream.append(StreamRecord(len(self.stream) + 1, self.name, event,
                                        self.schema.key_item(image), old, new, transaction,
                                        self.clock(), origin))

    def _propagate(self, key: KeyTuple, new: Item | None) -> None:
        if not self.indexes:
            return
        due = max(self._last_due, self.clock() + self.index_lag())
        self._last_due = due
        self._pending.append((due, key, new))
        self._catch_up()

    def _catch_up(self) -> None:
        now = self.clock()
        while self._pending and self._pending[0][0] <= now:
            _, key, new = self._pending.popleft()
            old = self._index_items.pop(key, None)
            if new is not None:
                self._index_items[key] = new
            for part in self._index_parts.values():
                part.put(key, old, new)


def position(schema: KeySchema, key: KeyTuple, item: Item) -> tuple[Any, ...]:
    """Where an item sits in a Query of `schema` (a table or index): by its range key, then by
    its table key (the order between equal index keys is unspecified; this one is stable)."""
    return (schema.range_order(item), *(v.sort_key({kind: raw}) for kind, raw in key))
