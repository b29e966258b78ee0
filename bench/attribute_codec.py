"""Benchmark: botocore's JSON serializer and parser against tulip/attribute_codec.py's, on the
requests and responses the stack makes most.

    TULIP_ENV=test .venv/bin/python -m bench.attribute_codec [--rounds 5] [--seconds 0.5]

Cases (items are real tulip.schema items, serialized by PynamoDB as the services write them):
an accept transaction of 4 orders (each an order and its idempotency record, as the group commit
sends them), a user cancel's transaction, a matcher's order read (BatchGetItem of 10 orders), a
GetItem of one order, and a GetRecords page of 100 order records with both images (the
projector's and the replicator's read); and, beside them, the User-Agent header botocore builds
for every call, its default against the fixed one of tulip/aws.py. Per case and codec, CPU time per operation
(`time.process_time`) over a fixed wall-clock slice; the codecs alternate within each round;
medians over rounds. In-process, no server: only the client-side conversion, which is the part
the codec changes. Benchmarks only: not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore import parsers, serialize
from botocore.config import Config as BotoConfig

from tulip import attribute_codec
from tulip.schema import ACCEPTED, CancelItem, IdempotencyItem, OrderItem

SESSION = botocore.session.get_session()
DYNAMODB = SESSION.get_service_model("dynamodb")
STREAMS = SESSION.get_service_model("dynamodbstreams")
NOW = "2026-12-08T00:00:00.000Z"


def _order(n: int) -> OrderItem:
    order_id = f"{n:032x}"
    return OrderItem(
        OrderItem.key(order_id), OrderItem.key(order_id), order_id=order_id, client_id="c" * 36,
        idempotency_key="f" * 64, symbol="TULIP", side="BUY", qty=10, price_ticks=10_025,
        time_in_force="GTC", post_only=False, status=ACCEPTED, filled_qty=0, filled_notional=0,
        created_at=NOW, accepted_at=NOW, updated_at=NOW, region="us-east-1",
        accepted_az="us-east-1a", open_symbol="TULIP", open_sort=f"A#{NOW}#{order_id}")


def _record(n: int) -> IdempotencyItem:
    key = IdempotencyItem.key(f"{n:064x}")
    return IdempotencyItem(key, key, order_id=f"{n:032x}", client_id="c" * 36,
                           fingerprint="e" * 64, created_at=NOW, expires_at=1_765_000_000)


def _put(item: Any) -> dict[str, Any]:
    return {"Put": {"TableName": "tulip-orders", "Item": item.serialize(),
                    "ConditionExpression": "attribute_not_exists (#0)",
                    "ExpressionAttributeNames": {"#0": "pk"}}}


def _requests() -> dict[str, tuple[Any, dict[str, Any]]]:
    accept = [put for n in range(4) for put in (_put(_order(n)), _put(_record(n)))]
    order = _order(0)
    cancel_record = CancelItem(CancelItem.key(order.order_id), CancelItem.key(order.order_id),
                               order_id=order.order_id, client_id="c" * 36, symbol="TULIP",
                               cancelled_at=NOW, region="us-east-1")
    cancel = [{"Update": {"TableName": "tulip-orders", "Key": {"pk": {"S": order.pk}, "sk": {"S": order.sk}},
                          "UpdateExpression": "SET #0 = :0, #1 = :1, #2 = :2",
                          "ConditionExpression": "#3 = :3 AND #0 = :4 AND #4 = :5",
                          "ExpressionAttributeNames": {f"#{i}": n for i, n in enumerate(
                              ("status", "cancelReason", "updatedAt", "clientId", "filledQty"))},
                          "ExpressionAttributeValues": {":0": {"S": "CANCELLED"}, ":1": {"S": "user"},
                                                        ":2": {"S": NOW}, ":3": {"S": "c" * 36},
                                                        ":4": {"S": "OPEN"}, ":5": {"N": "0"}}}},
              _put(cancel_record)]
    return {"accept transaction (4 orders)": (DYNAMODB.operation_model("TransactWriteItems"),
                                              {"TransactItems": accept}),
            "cancel transaction": (DYNAMODB.operation_model("TransactWriteItems"),
                                   {"TransactItems": cancel})}


def _responses() -> dict[str, tuple[Any, bytes]]:
    images = [_order(n).serialize() for n in range(100)]
    records = [{"eventID": str(n), "eventName": "MODIFY", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "dynamodb": {"ApproximateCreationDateTime": 1765152000.123,
                             "Keys": {"pk": image["pk"], "sk": image["sk"]}, "NewImage": image,
                             "OldImage": image, "SequenceNumber": f"{n:021d}", "SizeBytes": 900,
                             "StreamViewType": "NEW_AND_OLD_IMAGES"}}
               for n, image in enumerate(images)]
    return {
        "GetItem (1 order)": (DYNAMODB.operation_model("GetItem"),
                              json.dumps({"Item": images[0]}).encode()),
        "BatchGetItem (10 orders)": (DYNAMODB.operation_model("BatchGetItem"), json.dumps(
            {"Responses": {"tulip-orders": images[:10]}, "UnprocessedKeys": {}}).encode()),
        "GetRecords (100 records)": (STREAMS.operation_model("GetRecords"), json.dumps(
            {"Records": records, "NextShardIterator": "i"}).encode()),
    }


def _user_agents() -> dict[str, Callable[[], Any]]:
    """The User-Agent header botocore builds twice per request (the request dict, then again on
    request-created): its default, structured one against a fixed one (tulip/aws.py)."""
    import boto3

    from tulip import aws

    def builder(config: Any) -> Callable[[], Any]:
        client = boto3.session.Session().client(
            "dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
            config=config, **aws.LOCAL_CREDENTIALS)
        creator = client._user_agent_creator
        return lambda: (creator.to_string(), creator.to_string())

    default = BotoConfig(retries={"max_attempts": 3, "mode": "standard"})  # PRODUCT's, no UA
    return {"botocore": builder(default), "attribute_codec": builder(aws.PRODUCT)}


def _per_op(call: Callable[[], Any], seconds: float) -> float:
    """CPU microseconds per call over a wall-clock slice."""
    calls, cpu0, deadline = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(20):
            call()
        calls += 20
    return (time.process_time() - cpu0) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    codecs: dict[str, tuple[Any, Any]] = {
        "botocore": (serialize.JSONSerializer(), parsers.JSONParser()),
        "attribute_codec": (attribute_codec.AttributeSerializer(), attribute_codec.AttributeParser())}
    cases: dict[str, dict[str, Callable[[], Any]]] = {}
    for name, (model, params) in _requests().items():
        cases[name] = {codec: (lambda s=s, m=model, p=params: s.serialize_to_request(p, m))
                       for codec, (s, _) in codecs.items()}
    cases["User-Agent header, twice per call (default / fixed)"] = _user_agents()
    for name, (model, body) in _responses().items():
        cases[name] = {codec: (lambda r=r, m=model, b=body: r.parse(
            {"body": b, "headers": {}, "status_code": 200}, m.output_shape))
            for codec, (_, r) in codecs.items()}
    print(f"{args.rounds} rounds, {args.seconds} s per case and codec; CPU us per operation (median)")
    print("| case | botocore | attribute_codec | botocore / attribute_codec |")
    print("|---|---:|---:|---:|")
    for name, calls in cases.items():
        samples: dict[str, list[float]] = {codec: [] for codec in calls}
        for _ in range(args.rounds):
            for codec, call in calls.items():
                samples[codec].append(_per_op(call, args.seconds))
        stock, direct = (statistics.median(samples[c]) for c in ("botocore", "attribute_codec"))
        print(f"| {name} | {stock:,.1f} | {direct:,.1f} | {stock / direct:.2f}x |")


if __name__ == "__main__":
    main()
