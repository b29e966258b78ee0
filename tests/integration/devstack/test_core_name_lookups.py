"""Names moto derives from constants on every request are derived once (``core_name_lookups``),
and the answers stay stock moto's.

moto 5.2.5 lists the handler class's methods with ``inspect.getmembers`` on every request, and a
SendMessage to a FIFO queue builds the queue's whole attribute dict three times, converting each
attribute name with six regular-expression substitutions. Counted in server-side Python calls
(``work_meter``), never timed: a SendMessage to a FIFO queue costs ~2,150 calls on stock moto,
1,263 with the other fixes and 1,063 with this one too (the regular expressions' own work, in C,
is not counted: the CPU saved is larger than the calls say).
"""

from __future__ import annotations

import statistics
from typing import Any

from .support import MotoServer, calls_of, create_fifo_queue

MAX_SEND_CALLS = 1_150


def _send_calls(server: MotoServer, url: str, tag: str) -> int:
    return calls_of(server.metered("sqs").send_message(
        QueueUrl=url, MessageBody="{}", MessageGroupId="market-P0",
        MessageDeduplicationId=tag))


def test_send_message_cost(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs)
    _send_calls(server, url, "warm")
    calls = statistics.median(_send_calls(server, url, f"m{k}") for k in range(3))
    server.expect(calls < MAX_SEND_CALLS, f"SendMessage to a FIFO queue: {calls:,.0f} server calls")


def _answers(server: MotoServer) -> list[Any]:
    url = create_fifo_queue(server.sqs)
    sent = server.sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                                   MessageDeduplicationId="d")
    attributes = server.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    keep = ("FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout", "DelaySeconds",
            "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
            "ApproximateNumberOfMessages", "DeduplicationScope", "FifoThroughputLimit")
    return [sorted(sent), {k: v for k, v in attributes["Attributes"].items() if k in keep},
            sorted(server.sqs.list_queues(QueueNamePrefix=url.rsplit("/", 1)[1])["QueueUrls"])
            == [url]]


def test_answers_as_stock_moto(servers: dict[str, MotoServer]) -> None:
    assert _answers(servers["patched"]) == _answers(servers["unpatched"])
