"""TransactWriteItems costs the same on a big table as on an empty one, and leaks no memory.

moto 5.2.5 deep-copies the whole table once per operation for rollback (and keeps every copy,
see test_model_tracking): a 10-operation transaction on a 1,000-item table takes ~0.5 s and
grows the server by ~25 MB.
"""

from __future__ import annotations

import statistics
import time

from .support import MotoServer, create_table, fill_table

OPS = 10


def _transact_seconds(server: MotoServer, table: str, tag: str) -> float:
    items = [{"Put": {"TableName": table, "Item": {"pk": {"S": f"{tag}-{i}"}}}} for i in range(OPS)]
    started = time.perf_counter()
    server.dynamodb.transact_write_items(TransactItems=items)
    return time.perf_counter() - started


def test_cost_does_not_grow_with_table_size(server: MotoServer) -> None:
    empty = create_table(server.dynamodb, stream=True)
    big = create_table(server.dynamodb, stream=True)
    fill_table(server.dynamodb, big, 1000)
    _transact_seconds(server, empty, "warm")
    on_empty = statistics.median(_transact_seconds(server, empty, f"e{k}") for k in range(3))
    rss_before = server.rss_kb()
    on_big = statistics.median(_transact_seconds(server, big, f"b{k}") for k in range(3))
    growth_mb = (server.rss_kb() - rss_before) / 1024
    server.expect(
        on_big <= 3 * on_empty + 0.02 and growth_mb < 8,
        f"{OPS}-op transaction: {on_empty * 1000:.0f} ms on an empty table, {on_big * 1000:.0f} ms "
        f"at 1,000 items; server grew {growth_mb:.0f} MB over 3 transactions",
    )
