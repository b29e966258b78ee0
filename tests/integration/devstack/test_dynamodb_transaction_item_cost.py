"""A matcher transaction's cost grows slowly with its item count; reads of N items likewise.

moto 5.2.5 spends ~3 ms of server CPU per item of a realistic matcher TransactWriteItems (order
Updates with SET/ADD/REMOVE and an IN condition, trade and event Puts, the fenced shard Update;
tables with GSIs and Streams): every expression is re-lexed and re-parsed per use, every
UpdateExpression validated by eleven full AST traversals with ABC isinstance checks per node,
items built with an O(n^2) size check, conditions evaluated twice. Fixes:
``dynamodb_expression_cache``, ``dynamodb_ast_traversal``, ``dynamodb_item_size``, the single
condition check of ``dynamodb_transactions``, ``dynamodb_simple_updates`` (the order and shard
Updates skip moto's generic AST pass and its deep copies) and ``dynamodb_type_fast_paths`` (key
lookups hash and compare string keys directly). BatchGetItem pays ~2 ms per returned item in moto's
generic response serializer (fix: ``dynamodb_read_responses``) and ~250 calls in key hashing
and in measuring every returned item twice (``dynamodb_type_fast_paths``); projected, it converts
the whole item to Python values once per projected name (``dynamodb_projection``).

The server's own count of Python calls per request is measured (``work_meter``), not time, so a
busy machine does not decide the outcome; the times are in ``make bench-devstack``.
"""

from __future__ import annotations

import pytest

from .matcher_items import MatcherScenario, create_matcher_tables
from .support import MotoServer, calls_of, create_table

ROUNDS = 6
# Patched: ~190 calls per extra matcher item (~1,600 before dynamodb_simple_updates, the
# referenced-values condition cache, dynamodb_type_fast_paths and the AttributeValue-map parse);
# stock moto: over 15,000 (and growing with the table).
MAX_CALLS_PER_TRANSACTION_ITEM = 350
# Patched: ~55 calls per extra item returned by BatchGetItem (~320 without
# dynamodb_type_fast_paths, which measures items in one loop); stock moto: ~6,700.
MAX_CALLS_PER_READ_ITEM = 120
# Patched: ~12,000 calls to put a 600-attribute item; stock moto (O(n^2) size check): ~1,270,000.
MAX_CALLS_WIDE_PUT = 100_000


def _calls_per_transaction(server: MotoServer, transactions: list[list[dict]]) -> float:
    ddb = server.metered("dynamodb")
    calls = [calls_of(ddb.transact_write_items(TransactItems=items)) for items in transactions]
    return sum(calls) / len(calls)


def test_transaction_cost_per_item(server: MotoServer) -> None:
    scenario = MatcherScenario(server.dynamodb, *create_matcher_tables(server.dynamodb))
    batches: dict[int, list[list[dict]]] = {3: [], 30: []}
    for size in (3, 30, 3, 30):
        for _ in range(ROUNDS // 2):
            batches[size].append(scenario.transaction(size))
            scenario.committed()  # built ahead of time; sent below in the same order
    sequence = [batches[s][i] for s, i in ((3, 0), (3, 1), (3, 2), (30, 0), (30, 1), (30, 2),
                                            (3, 3), (3, 4), (3, 5), (30, 3), (30, 4), (30, 5))]
    # Sent in the order built (each commit's fencing condition names the previous one's seq).
    small_a, large_a, small_b, large_b = (_calls_per_transaction(server, sequence[k:k + 3])
                                          for k in (0, 3, 6, 9))
    small_calls, large_calls = small_a + small_b, large_a + large_b
    small_items = sum(len(t) for t in batches[3]) / ROUNDS
    large_items = sum(len(t) for t in batches[30]) / ROUNDS
    per_item = (large_calls - small_calls) / 2 / (large_items - small_items)
    server.expect(
        per_item < MAX_CALLS_PER_TRANSACTION_ITEM,
        f"server work per extra transaction item: {per_item:,.0f} calls "
        f"({small_calls / 2:,.0f} for ~{small_items:.0f} items, "
        f"{large_calls / 2:,.0f} for ~{large_items:.0f})",
    )


# The matcher's read projects ten top-level attributes. Patched (dynamodb_projection): ~60 calls
# per extra projected item, about what reading it whole costs; stock moto: ~5,100 (it converts the
# whole item to Python values and back once per projected name).
MAX_CALLS_PER_PROJECTED_READ_ITEM = 120
MATCH_PROJECTION = {f"#m{i}": name for i, name in enumerate(
    ("orderId", "clientId", "symbol", "side", "qty", "priceTicks", "timeInForce", "postOnly",
     "status", "filledQty"))}


@pytest.mark.parametrize("projected", [False, True], ids=["whole", "projected"])
def test_batch_get_cost_per_item(server: MotoServer, projected: bool) -> None:
    ddb = server.dynamodb
    scenario = MatcherScenario(ddb, *create_matcher_tables(ddb))
    scenario.accept(10)
    keys = [{"pk": i["pk"], "sk": i["sk"]} for i in ddb.scan(TableName=scenario.orders_table)["Items"]]
    assert len(keys) == 10

    metered = server.metered("dynamodb")

    def calls_per_get(count: int) -> float:
        request: dict = {scenario.orders_table: {"Keys": keys[:count], "ConsistentRead": True}}
        if projected:
            request[scenario.orders_table].update(
                ProjectionExpression=", ".join(MATCH_PROJECTION),
                ExpressionAttributeNames=MATCH_PROJECTION)
        calls = []
        for _ in range(3):
            response = metered.batch_get_item(RequestItems=request)
            assert len(response["Responses"][scenario.orders_table]) == count
            calls.append(calls_of(response))
        return min(calls)

    one, ten = calls_per_get(1), calls_per_get(10)
    per_item = (ten - one) / 9
    bound = MAX_CALLS_PER_PROJECTED_READ_ITEM if projected else MAX_CALLS_PER_READ_ITEM
    kind = "projected " if projected else ""
    server.expect(per_item < bound, f"{kind}BatchGetItem: {per_item:,.0f} server calls per extra "
                                    f"item ({one:,.0f} / {ten:,.0f})")


def test_put_of_a_wide_item(server: MotoServer) -> None:
    """Building an item re-measured every earlier attribute per attribute (O(n^2))."""
    ddb = server.dynamodb
    table = create_table(ddb)
    item = {"pk": {"S": "wide"}, **{f"a{n:04d}": {"S": "x" * 20} for n in range(600)}}
    metered = server.metered("dynamodb")
    per_put = min(calls_of(metered.put_item(TableName=table, Item=item)) for _ in range(3))
    server.expect(per_put < MAX_CALLS_WIDE_PUT, f"PutItem of a 600-attribute item: {per_put:,} server calls")
    # The 400 KB limit is enforced as before, with moto's error.
    with pytest.raises(ddb.exceptions.ClientError) as err:
        ddb.put_item(TableName=table, Item={"pk": {"S": "big"}, "a": {"S": "x" * 300_000},
                                            "b": {"S": "y" * 120_000}})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "Item size has exceeded the maximum allowed size" in err.value.response["Error"]["Message"]
