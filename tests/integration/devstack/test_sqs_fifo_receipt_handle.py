"""A receipt handle expires with its visibility timeout; a stale handle never deletes the message.

moto 5.2.5 accepts every handle a message ever had: a consumer that was too slow deletes the
message that another consumer received after the timeout (and is still processing).
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from .support import MotoServer, create_fifo_queue


def _delete(server: MotoServer, url: str, handle: str) -> str:
    try:
        server.sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
        return "deleted"
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])


def _depth(server: MotoServer, url: str) -> int:
    attrs = server.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_stale_handle_does_not_delete_redelivered_message(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs, visibility_timeout=1)
    server.sqs.send_message(QueueUrl=url, MessageBody="order", MessageGroupId="g", MessageDeduplicationId="d")
    stale = server.sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    time.sleep(1.3)
    current = server.sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    assert current != stale

    outcome = _depth(server, url), _delete(server, url, stale), _depth(server, url)
    server.expect(
        outcome == (1, "ReceiptHandleIsInvalid", 1),
        f"(depth, delete with the stale handle, depth) = {outcome}",
    )
    if server.patched:
        assert _delete(server, url, current) == "deleted"
        assert _delete(server, url, current) == "deleted"  # deleting again is a no-op
        assert _depth(server, url) == 0


def test_handle_expires_with_visibility_timeout(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs, visibility_timeout=1)
    server.sqs.send_message(QueueUrl=url, MessageBody="order", MessageGroupId="g", MessageDeduplicationId="d")
    handle = server.sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    time.sleep(1.3)  # timed out; nobody has received it again yet
    outcome = _delete(server, url, handle)
    server.expect(outcome == "ReceiptHandleIsInvalid", f"delete after the visibility timeout: {outcome}")
    if server.patched:
        again = server.sqs.receive_message(QueueUrl=url)["Messages"]
        assert [m["Body"] for m in again] == ["order"]
