"""Sending to the events FIFO queue (SQS). The only SQS producer code of order entry."""

from __future__ import annotations

import hashlib
import logging

from orders import messages
from tulip import aws
from tulip.config import Config

log = logging.getLogger("orders.queue")


def dedupe_id(message: messages.Message) -> str:
    # Accepts dedupe on the IK (spec §5); a cancel on its order id, so retried cancels collapse.
    if isinstance(message, messages.OrderAccepted):
        return message.idempotencyKey
    return hashlib.sha256(f"cancel:{message.orderId}".encode()).hexdigest()


def send(cfg: Config, message: messages.Message) -> bool:
    """True when SQS took the message. Never raises: the state of record is already durable and
    the sweeper re-sends what did not make it (crash window between commit and send)."""
    try:
        aws.client("sqs", cfg).send_message(
            QueueUrl=cfg.events_fifo_url,
            MessageBody=messages.encode(message),
            MessageGroupId=messages.group_id(message.symbol),
            MessageDeduplicationId=dedupe_id(message),
        )
    except Exception:
        log.exception("send to events queue failed; the sweeper will re-send",
                      extra={"orderId": message.orderId})
        return False
    return True
