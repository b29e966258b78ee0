"""SendMessage costs the same on a deep FIFO queue as on an empty one.

moto 5.2.5 counts the queue's messages three times per send, reading its (slow) clock once per
message each time: a send at 1,000 queued messages takes ~90 ms. Counted in server-side Python
calls (``work_meter``): at 200 queued, ~18,000 per send on stock moto against ~2,000 on an empty
queue; patched, the same on both.
"""

from __future__ import annotations

import statistics

from .support import MotoServer, calls_of, create_fifo_queue

DEPTH = 200


def _send_calls(server: MotoServer, url: str, tag: str) -> int:
    response = server.metered("sqs").send_message(
        QueueUrl=url, MessageBody=tag, MessageGroupId=tag, MessageDeduplicationId=tag
    )
    return calls_of(response)


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
    on_empty = statistics.median(_send_calls(server, empty, f"e{k}") for k in range(3))
    on_deep = statistics.median(_send_calls(server, deep, f"d{k}") for k in range(3))
    server.expect(
        on_deep < 1.5 * on_empty + 500,
        f"SendMessage: {on_empty:,.0f} server calls on an empty queue, {on_deep:,.0f} at {DEPTH} queued",
    )
