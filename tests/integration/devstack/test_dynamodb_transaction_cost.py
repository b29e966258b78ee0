"""TransactWriteItems costs the same on a big table as on an empty one, and leaks no memory.

moto 5.2.5 deep-copies the whole table once per operation for rollback (and keeps every copy,
see test_model_tracking): a 10-operation transaction on a 1,000-item table takes ~0.5 s and
grows the server by ~25 MB. Work is counted in server-side Python calls (``work_meter``): the same
transaction costs ~2,900 calls patched at any table size, and ~1,500,000 on stock moto at 1,000
items.
"""

from __future__ import annotations

import statistics

from .support import MotoServer, calls_of, create_table, fill_table

OPS = 10


def _transact_calls(server: MotoServer, table: str, tag: str) -> int:
    items = [{"Put": {"TableName": table, "Item": {"pk": {"S": f"{tag}-{i}"}}}} for i in range(OPS)]
    return calls_of(server.metered("dynamodb").transact_write_items(TransactItems=items))


def test_cost_does_not_grow_with_table_size(server: MotoServer) -> None:
    empty = create_table(server.dynamodb, stream=True)
    big = create_table(server.dynamodb, stream=True)
    fill_table(server.dynamodb, big, 1000)
    _transact_calls(server, empty, "warm")
    on_empty = statistics.median(_transact_calls(server, empty, f"e{k}") for k in range(3))
    rss_before = server.rss_kb()
    on_big = statistics.median(_transact_calls(server, big, f"b{k}") for k in range(3))
    growth_mb = (server.rss_kb() - rss_before) / 1024
    server.expect(
        on_big <= 1.5 * on_empty + 500 and growth_mb < 8,
        f"{OPS}-op transaction: {on_empty:,.0f} server calls on an empty table, {on_big:,.0f} "
        f"at 1,000 items; server grew {growth_mb:.0f} MB over 3 transactions",
    )
