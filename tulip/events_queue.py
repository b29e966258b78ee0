"""Sending commands to the events FIFO queue (SQS): the one producer every writer uses (order
entry, the sweeper, ops' compensating cancels). The matcher's consumer is matching/queue.py.

Sends of one process to one queue at the same moment share one `SendMessageBatch` (group
commit, tulip/combiner.py): under load an accept's send costs a tenth of a call, alone it is the
plain `SendMessage` it always was. Each caller still learns its own message's outcome before it
answers, so the accept path's order (commit, enqueue, 201) is unchanged."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tulip import aws, wire
from tulip.combiner import Combiner
from tulip.config import Config

log = logging.getLogger("tulip.events_queue")

SQS_BATCH_MAX = 10  # SendMessageBatch's limit (entries per call)


@dataclass(frozen=True, slots=True)
class _Send:
    message: wire.Message
    entry: dict[str, str]  # MessageBody, MessageGroupId, MessageDeduplicationId


_combiners: dict[tuple[int, str], Combiner[_Send, bool]] = {}
_combiners_lock = threading.Lock()


def send(cfg: Config, message: wire.Message) -> bool:
    """True when SQS took the message. Never raises: the state of record is already durable and
    the sweeper re-sends what did not make it (crash window between commit and send)."""
    url = cfg.events_queue_url(message.symbol)
    entry = {"MessageBody": wire.encode(message), "MessageGroupId": wire.group_id(message.symbol),
             "MessageDeduplicationId": wire.dedupe_id(message)}
    return _combiner(cfg, url).submit(_Send(message, entry))


def _combiner(cfg: Config, url: str) -> Combiner[_Send, bool]:
    key = (id(cfg), url)
    with _combiners_lock:
        combiner = _combiners.get(key)
        if combiner is None:
            combiner = Combiner(lambda sends: _send_batch(cfg, url, sends), SQS_BATCH_MAX)
            _combiners[key] = combiner
        return combiner


def _send_batch(cfg: Config, url: str, sends: Sequence[_Send]) -> list[bool]:
    sqs: Any = aws.client("sqs", cfg)
    try:
        if len(sends) == 1:
            sqs.send_message(QueueUrl=url, **sends[0].entry)
            return [True]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(index), **s.entry} for index, s in enumerate(sends)])
    except Exception:
        log.exception("send to events queue failed; the sweeper will re-send",
                      extra={"orderIds": [s.message.orderId for s in sends]})
        return [False] * len(sends)
    taken = {int(entry["Id"]) for entry in answer.get("Successful", [])}
    for failure in answer.get("Failed", []):
        log.error("send to events queue refused; the sweeper will re-send",
                  extra={"orderId": sends[int(failure["Id"])].message.orderId,
                         "code": failure.get("Code")})
    return [index in taken for index in range(len(sends))]
