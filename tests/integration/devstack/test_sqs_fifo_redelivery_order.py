"""After a visibility timeout, a FIFO group is redelivered from its oldest message, in order.

moto 5.2.5: with messages 0-9 of a group in flight and 10-19 waiting, once the timeout passes it
hands out 10, 11, ... and holds 0-9 back: a consumer sees the group out of order.
"""

from __future__ import annotations

import time

from .support import MotoServer, create_fifo_queue


def _send(server: MotoServer, url: str, bodies: list[str], group: str = "market-TULIP") -> None:
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": body, "MessageGroupId": group, "MessageDeduplicationId": body}
            for i, body in enumerate(bodies[start : start + 10])
        ]
        server.sqs.send_message_batch(QueueUrl=url, Entries=entries)


def test_redelivery_keeps_fifo_order(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs, visibility_timeout=1)
    bodies = [f"m{i:02d}" for i in range(20)]
    _send(server, url, bodies)

    first = server.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == bodies[:10]
    time.sleep(1.3)  # consumer "crashed": nothing deleted, visibility timeout passes

    # A consumer that processes in receive order and deletes what it processed.
    processed: list[str] = []
    deadline = time.monotonic() + 10
    while len(processed) < len(bodies) and time.monotonic() < deadline:
        batch = server.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in batch.get("Messages", []):
            processed.append(message["Body"])
            server.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    server.expect(processed == bodies, f"redelivered group read in order {processed}")


def test_groups_are_independent(server: MotoServer) -> None:
    """A group with a message in flight does not block other groups (true on both)."""
    url = create_fifo_queue(server.sqs, visibility_timeout=30)
    _send(server, url, ["a1", "a2"], group="A")
    _send(server, url, ["b1", "b2"], group="B")
    got = server.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in got] == ["a1"]
    got = server.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["b1", "b2"]
