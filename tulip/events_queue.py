"""Sending commands to the events FIFO queue (SQS): the one producer every writer uses (order
entry, the sweeper, ops' compensating cancels). The matcher's consumer is matching/queue.py."""

from __future__ import annotations

import logging

from tulip import aws, wire
from tulip.config import Config

log = logging.getLogger("tulip.events_queue")


def send(cfg: Config, message: wire.Message) -> bool:
    """True when SQS took the message. Never raises: the state of record is already durable and
    the sweeper re-sends what did not make it (crash window between commit and send)."""
    try:
        aws.client("sqs", cfg).send_message(
            QueueUrl=cfg.events_queue_url(message.symbol),
            MessageBody=wire.encode(message),
            MessageGroupId=wire.group_id(message.symbol),
            MessageDeduplicationId=wire.dedupe_id(message),
        )
    except Exception:
        log.exception("send to events queue failed; the sweeper will re-send",
                      extra={"orderId": message.orderId})
        return False
    return True
