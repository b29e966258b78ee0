"""SendMessage costs the same on a deep FIFO queue as on an empty one.

moto 5.2.5 counts the queue's messages three times per send, reading its (slow) clock once per
message each time: a send at 1,000 queued messages takes ~90 ms.
"""

from __future__ import annotations

import statistics
import time

import pytest

from .support import MotoServer, create_fifo_queue

DEPTH = 200


def _send_ms(server: MotoServer, url: str, tag: str) -> float:
    started = time.perf_counter()
    server.sqs.send_message(QueueUrl=url, MessageBody=tag, MessageGroupId=tag, MessageDeduplicationId=tag)
    return (time.perf_counter() - started) * 1000


@pytest.mark.slow  # wall-clock comparison: noisy on a shared 2-core machine; `make test-chaos`
def test_send_cost_does_not_grow_with_depth(server: MotoServer) -> None:
    empty = create_fifo_queue(server.sqs)
    deep = create_fifo_queue(server.sqs)
    for start in range(0, DEPTH, 10):
        server.sqs.send_message_batch(
            QueueUrl=deep,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": "x",
                    "MessageGroupId": f"g{i % 20}",
                    "MessageDeduplicationId": str(i),
                }
                for i in range(start, start + 10)
            ],
        )
    on_empty = statistics.median(_send_ms(server, empty, f"e{k}") for k in range(7))
    on_deep = statistics.median(_send_ms(server, deep, f"d{k}") for k in range(7))
    server.expect(
        on_deep < 1.5 * on_empty + 5,
        f"SendMessage p50 {on_empty:.1f} ms on an empty queue, {on_deep:.1f} ms at {DEPTH} queued",
    )
