"""Helpers for order-entry tests: unique callers, direct reads of the tables and the queue."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from tests.support.stack import StackHandle


def new_client(stack: StackHandle) -> tuple[str, str]:
    """(clientId, token) of a fresh trader: tests never see each other's orders."""
    client_id = str(uuid.uuid4())
    return client_id, stack.forge_token(sub=client_id, username=f"t-{client_id[:8]}")


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"symbol": "TULIP", "side": "BUY", "qty": 10, "price": "101.25",
                            "timeInForce": "GTC", "postOnly": False,
                            "idempotencyKey": f"k-{uuid.uuid4().hex[:12]}"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def ik(client_id: str, key: str) -> str:
    return hashlib.sha256((client_id + key).encode()).hexdigest()


def order_items_of(stack: StackHandle, client_id: str) -> list[dict[str, Any]]:
    ddb = stack.boto("dynamodb")
    result = ddb.query(TableName=stack.env["ORDERS_TABLE"], IndexName="clientOrders",
                       KeyConditionExpression="clientId = :c",
                       ExpressionAttributeValues={":c": {"S": client_id}})
    return [item for item in result["Items"] if item["pk"]["S"].startswith("ORDER#")]


def idempotency_items(stack: StackHandle, client_id: str, key: str) -> list[dict[str, Any]]:
    ddb = stack.boto("dynamodb")
    pk = f"IDEMP#{ik(client_id, key)}"
    result = ddb.query(TableName=stack.env["ORDERS_TABLE"],
                       KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": pk}})
    return list(result["Items"])


def drain_queue(stack: StackHandle, wait_s: float = 2.0) -> list[dict[str, Any]]:
    """Every message now in the events queues (read and deleted): tests that use this run on a
    stack without a matcher, so nothing else consumes the queues."""
    sqs = stack.boto("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_s
    while True:
        messages = []
        for symbol in stack.symbols:
            url = stack.queue_url(symbol)
            response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0, VisibilityTimeout=30,
                                           MessageSystemAttributeNames=["MessageGroupId"])
            for message in response.get("Messages", []):
                body = json.loads(message["Body"])
                body["_group"] = message["Attributes"]["MessageGroupId"]
                body["_queue"] = symbol
                found.append(body)
                messages.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            if time.monotonic() > deadline:
                return found
            time.sleep(0.2)


def set_order_fields(stack: StackHandle, order_id: str, **fields: Any) -> None:
    """Plant a state the matcher would have written (this issue has no matcher yet)."""
    ddb = stack.boto("dynamodb")
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {}
    for i, value in enumerate(fields.values()):
        values[f":v{i}"] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
    ddb.update_item(TableName=stack.env["ORDERS_TABLE"],
                    Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"ORDER#{order_id}"}},
                    UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                    ExpressionAttributeNames=names, ExpressionAttributeValues=values)
