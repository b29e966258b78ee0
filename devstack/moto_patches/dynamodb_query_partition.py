"""Fix ``dynamodb_query_partition``: a Query on a table's own key reads its partition only.

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

Fix: while a Query without an index runs, ``all_items`` answers (for that table, in that request's
thread: moto's server is threaded) with the queried partition's items, the only ones moto's own
filter would keep. Everything after that is moto's unchanged code: the sort by range key, the key
condition, paging, the filter expression, the projection, the size limit. A Query on an index still
reads the whole table (an index is not stored apart in moto), as does a Scan.
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
    return list(partition.values()) if table.range_key_attr else [partition]


def _query(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def query(self: Any, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any,
              exclusive_start_key: Any, scan_index_forward: Any, projection_expressions: Any,
              index_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        scoped = not index_name and hash_key is not None
        if scoped:
            _scope.current = (self, _partition_items(self, hash_key))
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
