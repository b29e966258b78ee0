"""A committed batch published in one call (publish_groups): every group with a listener gets its
messages in order in one channel-layer message, and groups nobody listens to cost no group_send
at all."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


def _status(client_id: str, seq: int) -> dict[str, Any]:
    return {"type": "orderStatus", "topic": "orderStatus", "seq": seq,
            "order": {"orderId": f"o-{seq}", "clientId": client_id, "symbol": "RTL",
                      "status": "OPEN"}}


def test_batch_reaches_listeners_in_order_and_skips_empty_groups(rt_stack: StackHandle) -> None:
    alice_id, absent_id = str(uuid.uuid4()), str(uuid.uuid4())
    token = rt_stack.forge_token(sub=alice_id, username="alice-batch")
    publisher = rt_ws.make_publisher(rt_stack)
    sent_to: list[str] = []
    real_group_send = publisher.layer.group_send

    async def counting_group_send(group: str, message: dict[str, Any]) -> None:
        sent_to.append(group)
        await real_group_send(group, message)

    publisher.layer.group_send = counting_group_send  # type: ignore[method-assign]
    batch = {
        f"orders.{alice_id}": [_status(alice_id, 1), _status(alice_id, 3)],
        f"orders.{absent_id}": [_status(absent_id, 2)],  # nobody connected as this client
        "trades.RTL": [rt_ws.trade("RTL", 4, 0), rt_ws.trade("RTL", 5, 4)],
        "book.RTL": [{"type": "book", "topic": "book:RTL", "seq": 5, "prevSeq": 4,
                      "bids": [], "asks": []}],  # alice does not subscribe to the book
    }

    async def run() -> list[dict[str, Any]]:
        alice = await rt_ws.connect(rt_stack, token)
        await rt_ws.subscribe(alice, "orderStatus", "trades:RTL")
        await asyncio.to_thread(publisher.publish_groups, batch)
        last, before = await rt_ws.recv_until(alice, lambda m: m.get("seq") == 5)
        await alice.close()
        return [*before, last]

    try:
        got = asyncio.run(run())
    finally:
        publisher.close()
    statuses = [m["seq"] for m in got if m["type"] == "orderStatus"]
    trades = [(m["seq"], m["prevSeq"]) for m in got if m["type"] == "trade"]
    assert statuses == [1, 3]
    assert trades == [(4, 0), (5, 4)]
    # The book group has no member at all (no client subscribed to book:RTL) and the absent
    # client's group has none either: one pipelined count found that, and neither was sent to.
    # One channel-layer message per listened group, whatever its message count.
    assert sorted(sent_to) == sorted([f"orders.{alice_id}", "trades.RTL"])
