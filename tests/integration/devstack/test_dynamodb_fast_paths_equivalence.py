"""The speed fixes change no result: the same workload on patched and stock moto gives the same
items, GSI query results, stream records, cancellation reasons, errors and read responses.

Covers ``dynamodb_expression_cache``, ``dynamodb_ast_traversal``, ``dynamodb_item_size``,
``dynamodb_projection``, ``dynamodb_read_responses``, ``dynamodb_request_parse`` and the single
condition check of ``dynamodb_transactions``. The workload: realistic matcher transactions of 3,
30 and 60 items, one cancelled by a stale ``filledQty`` and one by a stale shard fence, a Put of
an item using every attribute type, UpdateItems that must fail validation (twice: failures are
not cached), then GetItem / BatchGetItem (whole and projected) / Query (table and GSIs) / Scan
and the full stream of both tables (SizeBytes included).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from .matcher_items import MatcherScenario, create_matcher_tables
from .support import MotoServer, read_stream, shard_iterator

RICH_ITEM = {
    "pk": {"S": "RICH#1"}, "sk": {"S": "RICH#1"}, "s": {"S": "text é"}, "n": {"N": "-12.50"},
    "b": {"B": b"\x00\x01binary"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"x", b"y"]}, "m": {"M": {"inner": {"L": [{"S": "v"}, {"N": "3"}, {"NULL": True}]}}},
    "l": {"L": [{"BOOL": False}, {"M": {}}]}, "flag": {"BOOL": True}, "nothing": {"NULL": True},
    "clientId": {"S": "rich-client"}, "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
}


def _error(call: Any) -> tuple[str, str]:
    try:
        call()
    except Exception as exc:  # botocore ClientError, compared below
        error = exc.response["Error"]  # type: ignore[attr-defined]
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]  # type: ignore[attr-defined]
        return str(error["Code"]), f"{error.get('Message')} {reasons}"
    return "ok", ""


def _workload(server: MotoServer, tag: str) -> dict[str, Any]:
    ddb = server.dynamodb
    orders, trades = create_matcher_tables(ddb, tag)
    scenario = MatcherScenario(ddb, orders, trades)
    out: dict[str, Any] = {"errors": []}
    for size in (3, 30, 60, 3):
        ddb.transact_write_items(TransactItems=scenario.transaction(size))
        scenario.committed()

    # A stale expected filledQty on one order update (a concurrent cancel/fill won).
    items = copy.deepcopy(scenario.transaction(30))
    update = next(i for i in items if "Update" in i and i["Update"]["TableName"] == orders)
    update["Update"]["ExpressionAttributeValues"][":expected"] = {"N": "7"}
    out["errors"].append(_error(lambda: ddb.transact_write_items(TransactItems=items)))
    # The same batch with a stale shard fence.
    fenced = scenario.transaction(3)
    fenced[-1]["Update"]["ExpressionAttributeValues"][":epoch"] = {"N": "99"}
    out["errors"].append(_error(lambda: ddb.transact_write_items(TransactItems=fenced)))

    ddb.put_item(TableName=orders, Item=RICH_ITEM)
    key = {"pk": {"S": "RICH#1"}, "sk": {"S": "RICH#1"}}
    for _ in range(2):  # failures must repeat (never cached as "validated")
        out["errors"].append(_error(lambda: ddb.update_item(
            TableName=orders, Key=key, UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "x"}})))
        out["errors"].append(_error(lambda: ddb.update_item(
            TableName=orders, Key=key, UpdateExpression="SET m.inner = :v, m = :v",
            ExpressionAttributeValues={":v": {"S": "x"}})))
        out["errors"].append(_error(lambda: ddb.update_item(
            TableName=orders, Key=key, UpdateExpression="SET s = :v",
            ConditionExpression="s = :v", ExpressionAttributeValues={":v": {"S": "x"}})))
    ddb.update_item(TableName=orders, Key=key, UpdateExpression="SET n = n + :one ADD ns :more REMOVE l",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":more": {"NS": ["9"]}})

    def strip(response: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    out["get"] = strip(ddb.get_item(TableName=orders, Key=key, ConsistentRead=True))
    some = [{"pk": i["pk"], "sk": i["sk"]} for i in ddb.scan(TableName=orders, Limit=12)["Items"]]
    batch = strip(ddb.batch_get_item(RequestItems={orders: {"Keys": some, "ConsistentRead": True}}))
    batch["Responses"][orders].sort(key=lambda i: i["pk"]["S"])
    out["batch_get"] = batch
    # Projections: top-level names (the matcher's read; dynamodb_projection's direct path, with
    # a name the items lack) and nested / indexed paths (moto's own code).
    names = {f"#a{i}": name for i, name in enumerate(
        ("orderId", "status", "filledQty", "postOnly", "priceTicks", "s", "n", "flag", "absent"))}
    projected = strip(ddb.batch_get_item(RequestItems={orders: {
        "Keys": [*some, key], "ConsistentRead": True, "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names}}))
    projected["Responses"][orders].sort(key=lambda i: str(i.get("orderId", i.get("s"))))
    out["batch_get_projected"] = projected
    out["get_nested"] = strip(ddb.get_item(TableName=orders, Key=key,
                                           ProjectionExpression="m.inner, l[0], s, pk"))
    out["query_projected"] = strip(ddb.query(
        TableName=orders, IndexName="openOrders", KeyConditionExpression="openSymbol = :v",
        ExpressionAttributeValues={":v": {"S": "TLP"}}, ProjectionExpression="orderId, openSort"))
    queries = {
        "openOrders": (orders, "openSymbol = :v", "TLP"),
        "clientOrders": (orders, "clientId = :v", "rich-client"),
        "symbolTrades": (trades, "tradeSymbol = :v", "TLP"),
        "buyerFills": (trades, "buyClientId = :v", "client-4"),
        "sellerFills": (trades, "sellClientId = :v", "client-1"),
    }
    for index, (table, condition, value) in queries.items():
        out[index] = strip(ddb.query(TableName=table, IndexName=index, KeyConditionExpression=condition,
                                     ExpressionAttributeValues={":v": {"S": value}}))
    out["events"] = strip(ddb.query(TableName=trades, KeyConditionExpression="pk = :p AND sk > :s",
                                    ExpressionAttributeValues={":p": {"S": "EVENTS#TLP"},
                                                               ":s": {"S": "0" * 20}}, Limit=25))
    for table in (orders, trades):
        scanned = ddb.scan(TableName=table)
        out[f"scan:{table.split('-')[0]}"] = sorted(
            scanned["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
        records, _ = read_stream(server, shard_iterator(server, table))
        out[f"stream:{table.split('-')[0]}"] = [
            (r["eventName"], r["dynamodb"]["SequenceNumber"], r["dynamodb"]["Keys"],
             r["dynamodb"].get("NewImage"), r["dynamodb"].get("OldImage"))
            for r in records
        ]
        out[f"sizes:{table.split('-')[0]}"] = [r["dynamodb"]["SizeBytes"] for r in records]
    return out


def test_same_results_as_stock_moto(servers: dict[str, MotoServer]) -> None:
    tag = uuid.uuid4().hex[:8]
    stock = _workload(servers["unpatched"], tag)
    fixed = _workload(servers["patched"], tag)
    assert stock["errors"][0][0] == "TransactionCanceledException"
    assert stock["errors"][1][0] == "TransactionCanceledException"
    assert stock["errors"][2][0] == "ValidationException"
    assert stock["errors"][4][0] == "ConditionalCheckFailedException"
    for index in ("openOrders", "clientOrders", "symbolTrades", "buyerFills", "sellerFills"):
        assert stock[index]["Items"], index
    assert len(stock["stream:trades"]) > 30
    for name in stock:
        if name.startswith("sizes:"):
            # SizeBytes is the length of a JSON dump that includes the record's creation time as
            # a float of epoch seconds, whose shortest repr is 12 ("1765000000.5") to 18
            # ("1765000000.1234567") characters: two servers' records differ by up to 6.
            pairs = list(zip(fixed[name], stock[name], strict=True))
            assert all(abs(f - s) <= 6 and f > 100 for f, s in pairs), (name, pairs)
            continue
        assert fixed[name] == stock[name], name


@pytest.mark.parametrize("expression", ["attribute_not_exists(pk)", "#st IN (:a, :b) AND q = :q"])
def test_condition_cache_keys_on_values(server: MotoServer, expression: str) -> None:
    """The same condition string with other values is evaluated with those values."""
    ddb = server.dynamodb
    orders, _ = create_matcher_tables(ddb)
    item = {"pk": {"S": "o"}, "sk": {"S": "o"}, "status": {"S": "OPEN"}, "q": {"N": "1"}}
    ddb.put_item(TableName=orders, Item=item)
    names = {"#st": "status"} if "#st" in expression else None
    results = []
    for q in ("1", "2", "1"):
        kwargs: dict[str, Any] = {"ConditionExpression": expression}
        if names:
            kwargs["ExpressionAttributeNames"] = names
            kwargs["ExpressionAttributeValues"] = {":a": {"S": "OPEN"}, ":b": {"S": "X"}, ":q": {"N": q}}
        results.append(_error(lambda kw=kwargs: ddb.put_item(TableName=orders, Item=item, **kw))[0])
    expected = (["ConditionalCheckFailedException"] * 3 if not names
                else ["ok", "ConditionalCheckFailedException", "ok"])
    assert results == expected
