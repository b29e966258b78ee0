"""A Query on a table's own key, or on an index, costs what its partition holds, not what the
table holds (fix: ``dynamodb_query_partition``), and answers exactly as stock moto does.

Stock moto 5.2.5 collects and sorts every item of the table for each such Query, then keeps the
queried partition's: counted in server-side Python calls (``work_meter``), a Query of 5 items
grows from ~8,600 calls alone in its table to ~119,000 beside 2,000 other items; patched, 1,400
either way. On an index, from ~6,800 calls alone to ~109,000 beside 2,000 other items; patched,
1,300 and ~8,900 (the other items are still looked at, not sorted).
"""

from __future__ import annotations

import statistics
from typing import Any

from .support import MotoServer, calls_of, create_table, unique

OTHERS = 2_000
PARTITION = 5


def _batch_put(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):  # BatchWriteItem takes 25 at a time
        ddb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": item}} for item in items[start:start + 25]]})


def _put_partition(ddb: Any, table: str, pk: str, count: int) -> None:
    _batch_put(ddb, table, [{"pk": {"S": pk}, "sk": {"S": f"s#{n:05d}"}, "n": {"N": str(n)},
                             "odd": {"BOOL": n % 2 == 1}} for n in range(count)])


def _others(ddb: Any, table: str, count: int) -> None:
    _batch_put(ddb, table, [{"pk": {"S": f"other-{n % 97}"}, "sk": {"S": f"s#{n:05d}"},
                             "n": {"N": str(n)}} for n in range(count)])


def _indexed_table(ddb: Any) -> str:
    """A table with the openOrders index's shape: a sparse GSI on (g, r)."""
    name = unique("indexed")
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("pk", "sk", "g", "r")],
        GlobalSecondaryIndexes=[{"IndexName": "byG", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                               {"AttributeName": "r", "KeyType": "RANGE"}]}])
    return name


def _put_indexed(ddb: Any, table: str, group: str, count: int, start: int = 0) -> None:
    # Every third item without the index's range key, every fifth without its hash key (not in
    # the sparse index); ties on r.
    _batch_put(ddb, table, [{"pk": {"S": f"p-{n % 13}"}, "sk": {"S": f"s#{n:05d}"},
                             "n": {"N": str(n)}, **({"g": {"S": group}} if n % 5 else {}),
                             **({"r": {"S": f"r#{n % 7}"}} if n % 3 else {})}
                            for n in range(start, start + count)])


def _index_query_calls(server: MotoServer, table: str) -> int:
    return calls_of(server.metered("dynamodb").query(
        TableName=table, IndexName="byG", KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "mine"}}))


def test_index_query_cost_does_not_grow_with_other_items(server: MotoServer) -> None:
    small, big = (_indexed_table(server.dynamodb) for _ in range(2))
    for table in (small, big):
        _put_indexed(server.dynamodb, table, "mine", PARTITION)
    _put_indexed(server.dynamodb, big, "others", OTHERS, start=PARTITION)
    alone = statistics.median(_index_query_calls(server, small) for _ in range(3))
    among = statistics.median(_index_query_calls(server, big) for _ in range(3))
    server.expect(among < 3 * alone + 6_000,
                  f"index Query of {PARTITION} items: {alone:,.0f} server calls alone in its "
                  f"table, {among:,.0f} beside {OTHERS:,} other items")


def _query_calls(server: MotoServer, table: str) -> int:
    return calls_of(server.metered("dynamodb").query(
        TableName=table, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "mine"}}, ConsistentRead=True))


def test_query_cost_does_not_grow_with_other_partitions(server: MotoServer) -> None:
    small, big = (create_table(server.dynamodb, range_key=True) for _ in range(2))
    for table in (small, big):
        _put_partition(server.dynamodb, table, "mine", PARTITION)
    _others(server.dynamodb, big, OTHERS)
    alone = statistics.median(_query_calls(server, small) for _ in range(3))
    among = statistics.median(_query_calls(server, big) for _ in range(3))
    server.expect(among < 1.5 * alone + 500,
                  f"Query of {PARTITION} items: {alone:,.0f} server calls alone in its table, "
                  f"{among:,.0f} beside {OTHERS:,} items of other partitions")


def _answers(server: MotoServer) -> list[Any]:
    ddb = server.dynamodb
    ranged = create_table(ddb, unique("ranged"), range_key=True)
    plain = create_table(ddb, unique("plain"))
    _put_partition(ddb, ranged, "mine", 60)
    _others(ddb, ranged, 300)
    ddb.put_item(TableName=plain, Item={"pk": {"S": "one"}, "v": {"N": "1"}})
    ddb.put_item(TableName=plain, Item={"pk": {"S": "two"}, "v": {"N": "2"}})
    indexed = _indexed_table(ddb)
    _put_indexed(ddb, indexed, "mine", 60)
    _put_indexed(ddb, indexed, "others", 200, start=60)
    mine = {":p": {"S": "mine"}}
    on_index = {"TableName": indexed, "IndexName": "byG"}
    queries: list[dict[str, Any]] = [
        {"TableName": ranged, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": mine},
        {"TableName": ranged, "KeyConditionExpression": "pk = :p AND begins_with(sk, :b)",
         "ExpressionAttributeValues": {**mine, ":b": {"S": "s#0001"}}},
        {"TableName": ranged, "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :z",
         "ExpressionAttributeValues": {**mine, ":a": {"S": "s#00010"}, ":z": {"S": "s#00030"}},
         "ScanIndexForward": False, "Limit": 7},
        {"TableName": ranged, "KeyConditionExpression": "pk = :p AND sk > :a",
         "ExpressionAttributeValues": {**mine, ":a": {"S": "s#00050"}, ":t": {"BOOL": True}},
         "FilterExpression": "odd = :t", "ProjectionExpression": "sk, n"},
        {"TableName": ranged, "KeyConditionExpression": "pk = :p",
         "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
        {"TableName": plain, "KeyConditionExpression": "pk = :p",
         "ExpressionAttributeValues": {":p": {"S": "two"}}},
        {**on_index, "KeyConditionExpression": "g = :g",
         "ExpressionAttributeValues": {":g": {"S": "mine"}}},
        {**on_index, "KeyConditionExpression": "g = :g AND begins_with(r, :b)",
         "ExpressionAttributeValues": {":g": {"S": "mine"}, ":b": {"S": "r#3"}},
         "ScanIndexForward": False, "Limit": 4},
        {**on_index, "KeyConditionExpression": "g = :g AND r > :a",
         "ExpressionAttributeValues": {":g": {"S": "others"}, ":a": {"S": "r#4"},
                                       ":t": {"N": "100"}},
         "FilterExpression": "n > :t", "ProjectionExpression": "pk, sk, n"},
        {**on_index, "KeyConditionExpression": "g = :g",
         "ExpressionAttributeValues": {":g": {"S": "nobody"}}},
    ]
    answers: list[Any] = []
    for query in queries:
        pages: list[Any] = []
        kwargs = dict(query, Limit=query.get("Limit", 25))
        for _ in range(10):  # paging: every page and its LastEvaluatedKey must match
            page = ddb.query(**kwargs)
            pages.append((page["Items"], page.get("LastEvaluatedKey"), page["Count"],
                           page["ScannedCount"]))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        answers.append(pages)
    # The lookup of an absent partition must not have added one: a Scan sees the same items.
    answers.append(sorted(str(i) for i in ddb.scan(TableName=ranged)["Items"]))
    return answers


def test_query_answers_as_stock_moto(servers: dict[str, MotoServer]) -> None:
    assert _answers(servers["patched"]) == _answers(servers["unpatched"])
