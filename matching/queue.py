"""The matcher's SQS calls (raw boto3: messages are plain JSON bodies, not Celery envelopes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from matching.services import Received
from tulip import aws
from tulip.config import Config

log = logging.getLogger("matching.queue")

MAX_MESSAGES = 10  # SQS's per-receive maximum, and FIFO's per-group in-flight batch


class EventsQueue:
    """One shard's events FIFO queue: only the process holding the shard's lease reads it."""

    def __init__(self, cfg: Config, symbol: str) -> None:
        self.url = cfg.events_queue_url(symbol)
        self.sqs = aws.client("sqs", cfg, profile="matcher")

    def receive(self, wait_s: int) -> list[Received]:
        """The next batch of the queue (one symbol: one FIFO group), in SQS order."""
        response = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=MAX_MESSAGES, WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["SequenceNumber", "ApproximateReceiveCount"])
        received = []
        for message in response.get("Messages", []):
            attributes = message.get("Attributes", {})
            received.append(Received(
                message_id=message["MessageId"], receipt_handle=message["ReceiptHandle"],
                body=message["Body"], sqs_seq=int(attributes.get("SequenceNumber", "0") or 0),
                receive_count=int(attributes.get("ApproximateReceiveCount", "1"))))
        return received

    def delete(self, messages: Sequence[Received]) -> None:
        """After the commit only. A failed delete is harmless: the redelivery is recognised by its
        SequenceNumber and skipped."""
        for start in range(0, len(messages), MAX_MESSAGES):
            chunk = messages[start:start + MAX_MESSAGES]
            result = self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(chunk)])
            if result.get("Failed"):
                log.warning("some deletes failed; redelivery will be skipped",
                            extra={"failed": len(result["Failed"])})

    def release(self, messages: Sequence[Received]) -> None:
        """Make messages visible again now (poison messages reach their redrive count quickly
        instead of blocking the group for a visibility timeout each time)."""
        for message in messages:
            try:
                self.sqs.change_message_visibility(QueueUrl=self.url,
                                                   ReceiptHandle=message.receipt_handle,
                                                   VisibilityTimeout=0)
            except Exception:
                log.warning("could not release a message", extra={"messageId": message.message_id})
