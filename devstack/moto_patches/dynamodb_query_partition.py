"""Fix ``dynamodb_query_partition``: a Query reads its partition only, on the table or an index.

Why (measured on moto 5.2.5): ``Table.query`` without an index takes its candidates from
``all_items()``, which collects every item of the table and sorts them all (DynamoType
comparisons), and only then keeps those of the queried partition. A Query's cost grows with the
whole table: the trades table, where every commit adds trades and an event page, made each of the
matcher's small queries (its shard's epoch records, the announced matchers, a fork window) cost
more the longer the stack ran. Under the stress load profile, after a few minutes, Query was a
quarter of the moto process's CPU at about one query a second (py-spy, `--gil`: 25 % in
``Table.query``, 15 % in ``all_items`` alone). In server-side Python calls (``work_meter``), a
Query of one partition of 5 items: on stock moto ~8,600 calls alone in its table and ~119,000
beside 2,000 items of other partitions; with the fixes, 1,400 either way
(tests/integration/devstack/test_dynamodb_query_partition.py).

A Query on an index did the same: every item of the table collected and sorted by the table's
keys, then those with the index's hash key kept. In a py-spy profile of moto under the stress
load profile (100 req/s, a table of a few thousand orders), index Queries (the sweeper's look at
the ACCEPTED orders every 2 s, GET /orders' open orders) were 9.5 % of moto's CPU, 7 % in that
sort; they grow with the table (on a fresh stack's first minute at 100 req/s the fix moved
moto's CPU from 54.0 to 51.8 % of a core, within the box's noise: the tables are still small
then; the region chaos run's hold thousands of orders). Counted in server-side Python calls, an
index Query of 5 items beside 2,000 other items: ~109,000 on stock moto, ~8,900 with the fix
(1,300 alone in its table).

Fix: while a Query runs, ``all_items`` answers (for that table, in that request's thread: moto's
server is threaded) with the only items moto's own filter would keep: on the table's key, the
queried partition's items; on an index, the items whose index hash key attributes hold the
queried values, in the table's key order as ``all_items`` sorts them (so that ties in the index's
own sort come out as before). Everything after that is moto's unchanged code: the sort by range
key, the key condition, paging, the filter expression, the projection, the size limit. A Scan
still reads the whole table.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from ._util import replace

NAME = "dynamodb_query_partition"

_scope = threading.local()  # (table, its queried partition's items) while a Query runs


def _partition_items(table: Any, hash_key: Any) -> list[Any]:
    # .get, not [...]: `items` is a defaultdict, and a lookup must not add an empty partition.
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return _members(table, partition)


def _members(table: Any, hash_set: Any) -> list[Any]:
    # A table with a range key keeps a partition as {range key: item}; without, the item itself.
    return list(hash_set.values()) if table.range_key_attr else [hash_set]


def _index_items(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    """The items whose attributes hold every (name, value) of an index Query's hash key, in the
    order ``Table.all_items`` gives (by the table's hash key, then range key)."""
    found = []
    for hash_set in table.items.values():
        for item in _members(table, hash_set):
            if all(_holds(item.attrs.get(name), value) for name, value in conditions):
                found.append(item)
    return sorted(found, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _holds(attribute: Any, value: Any) -> bool:
    # An item without the attribute is not in the index (`None == value` would ask the value).
    return attribute is not None and bool(attribute == value)


def _query(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def query(self: Any, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any,
              exclusive_start_key: Any, scan_index_forward: Any, projection_expressions: Any,
              index_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        conditions: list[tuple[str, Any]] = kwargs.get("hash_key_conditions") or []
        scoped = (hash_key is not None) if not index_name else bool(conditions)
        if scoped:
            _scope.current = (self, _partition_items(self, hash_key) if not index_name
                              else _index_items(self, conditions))
        try:
            return original(self, hash_key, range_comparison, range_objs, limit,
                            exclusive_start_key, scan_index_forward, projection_expressions,
                            index_name, *args, **kwargs)
        finally:
            if scoped:
                _scope.current = None

    query.__tulip_partition_query__ = True  # type: ignore[attr-defined]
    return query


def _all_items(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def all_items(self: Any) -> Any:
        current = getattr(_scope, "current", None)
        if current is not None and current[0] is self:
            return current[1]
        return original(self)

    return all_items


def apply() -> None:
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "__tulip_partition_query__", False):
        return
    replace(Table, "query", _query(Table.query))
    replace(Table, "all_items", _all_items(Table.all_items))
