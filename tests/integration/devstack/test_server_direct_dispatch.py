"""DynamoDB, DynamoDB Streams and SQS calls go straight to their handler, not through Flask
(``server_direct_dispatch``), and every answer stays stock moto's.

Counted in server-side Python calls (``work_meter``), never timed: a GetItem of a one-attribute
item costs ~1,940 calls on stock moto, 765 with the other fixes and ~580 with this one too; a
SendMessage to a FIFO queue 1,063 and ~870.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .support import MotoServer, calls_of, create_fifo_queue, create_table, shard_iterator

MAX_GET_ITEM_CALLS = 680
MAX_SEND_CALLS = 960
# Headers whose values differ per answer (ids, clocks, checksums of those).
VOLATILE_HEADERS = {"date", "x-amzn-requestid", "x-amz-crc32", "x-amzn-trace-id"}
# Stock moto closes every connection; keeping them open is another fix's (http_keep_alive).
CONNECTION_HEADERS = {"connection", "keep-alive"}


def test_get_item_cost(server: MotoServer) -> None:
    table = create_table(server.dynamodb)
    server.dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "x"}})
    metered = server.metered("dynamodb")
    calls = statistics.median(
        calls_of(metered.get_item(TableName=table, Key={"pk": {"S": "a"}})) for _ in range(3))
    server.expect(calls < MAX_GET_ITEM_CALLS, f"GetItem: {calls:,.0f} server calls")


def test_send_message_cost(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs)
    calls = statistics.median(
        calls_of(server.metered("sqs").send_message(
            QueueUrl=url, MessageBody="{}", MessageGroupId="g", MessageDeduplicationId=f"m{k}"))
        for k in range(3))
    server.expect(calls < MAX_SEND_CALLS, f"SendMessage to a FIFO queue: {calls:,.0f} server calls")


def _outcome(call: Callable[[], dict[str, Any]], keep: Callable[[dict[str, Any]], Any],
             volatile: frozenset[str] = frozenset()) -> Any:
    """What a client sees of an answer: the status, the headers' names and content type, and the
    kept part of the body; for an error, its code, status and message. `volatile`: more headers
    whose values differ between two servers for this answer."""
    try:
        answer = call()
    except ClientError as exc:
        meta = exc.response["ResponseMetadata"]
        return ("error", exc.response["Error"].get("Code"), meta["HTTPStatusCode"],
                exc.response["Error"].get("Message"), _headers(meta["HTTPHeaders"], volatile),
                exc.response.get("CancellationReasons"))
    meta = answer["ResponseMetadata"]
    return ("ok", meta["HTTPStatusCode"], _headers(meta["HTTPHeaders"], volatile), keep(answer))


def _headers(headers: dict[str, str], volatile: frozenset[str]) -> list[tuple[str, str]]:
    return sorted((name, "" if name in VOLATILE_HEADERS | volatile else value)
                  for name, value in headers.items() if name not in CONNECTION_HEADERS)


def _dynamodb_answers(server: MotoServer) -> list[Any]:
    ddb = server.dynamodb
    table = create_table(ddb, "direct-dispatch", stream=True, range_key=True)
    item = {"pk": {"S": "p"}, "sk": {"S": "1"}, "n": {"N": "1"}}
    no_keys = lambda answer: sorted(answer)  # noqa: E731 (names of the answer's parts)
    body = lambda answer: {k: v for k, v in answer.items() if k != "ResponseMetadata"}  # noqa: E731
    return [
        _outcome(lambda: ddb.put_item(TableName=table, Item=item), no_keys),
        _outcome(lambda: ddb.put_item(TableName=table, Item=item,
                                      ConditionExpression="attribute_not_exists(pk)"), body),
        _outcome(lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"S": "1"}},
                                      ConsistentRead=True), body),
        _outcome(lambda: ddb.update_item(
            TableName=table, Key={"pk": {"S": "p"}, "sk": {"S": "1"}},
            UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "2"}},
            ReturnValues="ALL_NEW"), body),
        _outcome(lambda: ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "p"}, "sk": {"S": "2"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}},
                                "ConditionExpression": "n = :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}}}}]), body),
        _outcome(lambda: ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                                   ExpressionAttributeValues={":p": {"S": "p"}}), body),
        _outcome(lambda: ddb.get_item(TableName="no-such-table", Key={"pk": {"S": "p"}}), body),
        _outcome(lambda: ddb.get_item(TableName=table, Key={"nope": {"S": "p"}}), body),
        # A record's ApproximateCreationDateTime is the server's clock in JSON, a digit shorter
        # whenever its milliseconds end in 0: the answer's length differs between two servers.
        _outcome(lambda: _records(server, table), body, frozenset({"content-length"})),
    ]


def _records(server: MotoServer, table: str) -> dict[str, Any]:
    answer: dict[str, Any] = server.streams.get_records(ShardIterator=shard_iterator(server, table))
    answer["Records"] = [(r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"].get("NewImage"))
                         for r in answer["Records"]]
    answer.pop("NextShardIterator", None)
    return answer


def _sqs_answers(server: MotoServer) -> list[Any]:
    sqs = server.sqs
    url = create_fifo_queue(sqs)
    received: dict[str, Any] = {}

    def receive() -> dict[str, Any]:
        received.update(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))
        return received

    return [
        _outcome(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                                          MessageDeduplicationId="d"), sorted),
        _outcome(receive, lambda answer: [m["Body"] for m in answer["Messages"]]),
        _outcome(lambda: sqs.delete_message(QueueUrl=url,
                                            ReceiptHandle=received["Messages"][0]["ReceiptHandle"]),
                 sorted),
        _outcome(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"), sorted),
        _outcome(lambda: sqs.get_queue_url(QueueName="no-such-queue.fifo"), sorted),
    ]


def test_answers_as_stock_moto(servers: dict[str, MotoServer]) -> None:
    patched, stock = servers["patched"], servers["unpatched"]
    assert _dynamodb_answers(patched) == _dynamodb_answers(stock)
    assert _sqs_answers(patched) == _sqs_answers(stock)


def test_other_services_take_moto_s_route(server: MotoServer) -> None:
    """S3 (a REST protocol, no X-Amz-Target) is still served, by moto's own dispatch."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="direct-dispatch")
    s3.put_object(Bucket="direct-dispatch", Key="k", Body=b"v")
    assert s3.get_object(Bucket="direct-dispatch", Key="k")["Body"].read() == b"v"
