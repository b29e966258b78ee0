"""FIFO deduplication lasts 5 minutes from the send, even after the first copy was deleted.

moto 5.2.5 only compares with messages still in the queue: once the first copy is deleted, a
duplicate (the sweeper re-enqueueing an order, a client retry) is delivered again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .support import MotoServer, create_fifo_queue


def _send(server: MotoServer, url: str, body: str, dedupe: str) -> str:
    out = server.sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId="market-TULIP", MessageDeduplicationId=dedupe
    )
    return str(out["MessageId"])


def _drain(server: MotoServer, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        got = server.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return bodies
        for message in got:
            bodies.append(message["Body"])
            server.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_duplicate_while_queued_is_dropped(server: MotoServer) -> None:
    """True on both: moto does catch a duplicate of a message still in the queue."""
    url = create_fifo_queue(server.sqs)
    _send(server, url, "first", "ik-1")
    _send(server, url, "second", "ik-1")
    assert _drain(server, url) == ["first"]


def test_duplicate_after_delete_within_window_is_dropped(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs)
    first_id = _send(server, url, "first", "ik-1")
    assert _drain(server, url) == ["first"]
    duplicate_id = _send(server, url, "again", "ik-1")
    delivered = _drain(server, url)
    server.expect(delivered == [], f"a duplicate sent after the first was deleted is delivered: {delivered}")
    if server.patched:
        assert duplicate_id == first_id  # AWS answers a duplicate with the original's MessageId


def test_content_based_duplicate_after_delete_is_dropped(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs, ContentBasedDeduplication="true")
    server.sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert _drain(server, url) == ["same"]
    server.sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    delivered = _drain(server, url)
    server.expect(delivered == [], f"content-based duplicate after delete delivered: {delivered}")


def test_window_expires(moto_factory: Callable[..., MotoServer]) -> None:
    """Patched only: the window is TULIP_MOTO_FIFO_DEDUPE_WINDOW_S (300 by default); after it, the
    same id is a new message, and ids are scoped to the group with DeduplicationScope=messageGroup."""
    server = moto_factory(True, {"TULIP_MOTO_FIFO_DEDUPE_WINDOW_S": "1"})
    url = create_fifo_queue(server.sqs)
    _send(server, url, "first", "ik-1")
    assert _drain(server, url) == ["first"]
    _send(server, url, "within", "ik-1")
    assert _drain(server, url) == []
    time.sleep(1.2)
    _send(server, url, "after", "ik-1")
    assert _drain(server, url) == ["after"]

    per_group = create_fifo_queue(
        server.sqs, DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId"
    )
    for group in ("A", "B", "A"):
        server.sqs.send_message(
            QueueUrl=per_group, MessageBody=group, MessageGroupId=group, MessageDeduplicationId="x"
        )
    assert sorted(_drain(server, per_group)) == ["A", "B"]
