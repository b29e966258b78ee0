"""A FIFO ReceiveMessage costs little per message returned (``sqs_receipt_handles`` and the shallow
response snapshot of ``sqs_fifo``).

moto 5.2.5 builds every new receipt handle with one ``random.choice`` per character (185 calls)
and deep-copies every message it returns: ~1,500 server calls per message of a receive, so the
matcher's 10-message receive cost several times a one-message one. Counted in server-side Python
calls (``work_meter``), never timed.
"""

from __future__ import annotations

import json

from .support import MotoServer, calls_of, create_fifo_queue

# Patched: ~210 calls per extra message returned (~840 with the sqs_fifo fix alone); stock
# moto: ~1,500.
MAX_CALLS_PER_RECEIVED_MESSAGE = 400
BODY = json.dumps({"schemaVersion": 1, "type": "OrderAccepted", "orderId": "o" * 36, "symbol": "P0",
                   "clientId": "c" * 36, "side": "BUY", "qty": 1, "price": "101.00",
                   "timeInForce": "IOC", "postOnly": False, "idempotencyKey": "k" * 20,
                   "acceptedAt": "2026-12-01T00:00:00.000Z"})


def _receive_calls(server: MotoServer, url: str, count: int, tag: str) -> int:
    server.sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": BODY, "MessageGroupId": "market-P0",
         "MessageDeduplicationId": f"{tag}-{i}"} for i in range(count)])
    response = server.metered("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["MessageGroupId", "SequenceNumber", "ApproximateReceiveCount"])
    messages = response["Messages"]
    assert len(messages) == count
    assert all(len(m["ReceiptHandle"]) >= 100 for m in messages)
    assert len({m["ReceiptHandle"] for m in messages}) == count
    server.sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return calls_of(response)


def test_receive_cost_per_message(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs)
    _receive_calls(server, url, 10, "warm")
    one = min(_receive_calls(server, url, 1, f"one{k}") for k in range(2))
    ten = min(_receive_calls(server, url, 10, f"ten{k}") for k in range(2))
    per_message = (ten - one) / 9
    server.expect(per_message < MAX_CALLS_PER_RECEIVED_MESSAGE,
                  f"ReceiveMessage: {per_message:,.0f} server calls per extra message "
                  f"({one:,} for 1, {ten:,} for 10)")
