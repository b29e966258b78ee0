"""orderStatus reaches only the token owner: bob never sees alice's orders, even if one were
published into his group by mistake."""

from __future__ import annotations

import asyncio
import uuid

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


def _status(client_id: str, seq: int) -> dict[str, object]:
    return {"type": "orderStatus", "topic": "orderStatus", "seq": seq,
            "order": {"orderId": f"o-{uuid.uuid4().hex[:8]}", "clientId": client_id,
                      "symbol": "RTC", "status": "OPEN"}}


def test_bob_never_receives_alices_order_status(rt_stack: StackHandle) -> None:
    alice_id, bob_id = str(uuid.uuid4()), str(uuid.uuid4())
    alice_token = rt_stack.forge_token(sub=alice_id, username="alice-x")
    bob_token = rt_stack.forge_token(sub=bob_id, username="bob-x")
    publisher = rt_ws.make_publisher(rt_stack)

    async def run() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        alice = await rt_ws.connect(rt_stack, alice_token)
        bob = await rt_ws.connect(rt_stack, bob_token)
        await rt_ws.subscribe(alice, "orderStatus")
        await rt_ws.subscribe(bob, "orderStatus", "trades:RTC")

        def publish() -> None:
            publisher.publish(f"orders.{alice_id}", [_status(alice_id, 1), _status(alice_id, 2)])
            # A misrouted message: alice's order in bob's group. The consumer must still drop it.
            publisher.publish(f"orders.{bob_id}", [_status(alice_id, 3)])
            publisher.publish(f"orders.{bob_id}", [_status(bob_id, 4)])
            publisher.publish("trades.RTC", [rt_ws.trade("RTC", 5, None)])  # a fence for bob

        await asyncio.to_thread(publish)
        alice_got, _ = await rt_ws.recv_until(alice, lambda m: m.get("seq") == 2)
        _, bob_got = await rt_ws.recv_until(bob, lambda m: m["type"] == "trade")
        await alice.close()
        await bob.close()
        return [alice_got], bob_got

    alice_got, bob_got = asyncio.run(run())
    assert alice_got[0]["order"]["clientId"] == alice_id  # type: ignore[index]
    statuses = [m for m in bob_got if m["type"] == "orderStatus"]
    assert [m["order"]["clientId"] for m in statuses] == [bob_id]  # type: ignore[index]
    publisher.close()
