"""Heartbeats arrive on the configured interval (WS_HEARTBEAT_S=0.5 here; 5 s by default) and
carry the last seq sent per subscribed topic."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


def test_heartbeats_carry_last_seq_per_topic(rt_stack: StackHandle) -> None:
    publisher = rt_ws.make_publisher(rt_stack)

    async def run() -> list[tuple[float, dict[str, object]]]:
        ws = await rt_ws.connect(rt_stack, rt_stack.token("alice"))
        await rt_ws.subscribe(ws, "trades:RTD", "orderStatus")
        await asyncio.to_thread(publisher.publish, "trades.RTD",
                                [rt_ws.trade("RTD", 41, 0), rt_ws.trade("RTD", 42, 41)])
        beats: list[tuple[float, dict[str, object]]] = []
        while len(beats) < 3:
            message, _ = await rt_ws.recv_until(ws, lambda m: m["type"] == "heartbeat", 3)
            beats.append((time.monotonic(), message))
        await ws.close()
        return beats

    beats = asyncio.run(run())
    gaps = [b[0] - a[0] for a, b in pairwise(beats)]
    assert all(0.2 < gap < 1.5 for gap in gaps), gaps
    assert beats[-1][1]["seqs"] == {"trades:RTD": 42, "orderStatus": None}
    assert beats[-1][1]["topic"] is None and isinstance(beats[-1][1]["ts"], str)
    publisher.close()
