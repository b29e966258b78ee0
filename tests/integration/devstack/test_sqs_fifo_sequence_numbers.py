"""FIFO SequenceNumbers increase with every message sent to the queue.

moto 5.2.5 draws 20 random digits per message (and sets none with content-based deduplication);
TulipBroker's matcher keeps the last applied SequenceNumber to recognise redeliveries.
"""

from __future__ import annotations

from .support import MotoServer, create_fifo_queue


def test_sequence_numbers_increase(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs)
    sent = [
        server.sqs.send_message(
            QueueUrl=url, MessageBody=str(i), MessageGroupId=f"g{i % 3}", MessageDeduplicationId=str(i)
        )["SequenceNumber"]
        for i in range(12)
    ]
    numbers = [int(s) for s in sent]
    server.expect(numbers == sorted(set(numbers)), f"sequence numbers not increasing: {sent}")
    received = server.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["SequenceNumber"]
    )["Messages"]
    assert all(m["Attributes"]["SequenceNumber"] in sent for m in received)


def test_content_based_dedupe_has_sequence_numbers(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs, ContentBasedDeduplication="true")
    out = server.sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    server.expect(len(out.get("SequenceNumber", "")) == 20, f"send response: {sorted(out)}")
