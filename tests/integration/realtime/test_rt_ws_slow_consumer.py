"""A client that stops reading fills its bounded send queue (WS_SEND_QUEUE_MAX=64 here) and is
closed with 4008; the server never buffers without bound."""

from __future__ import annotations

import asyncio
import json
import struct
import time

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle

PAD = "x" * 16_000  # big messages fill the TCP buffers quickly
TOTAL = 600


def test_slow_consumer_is_closed_with_4008(rt_stack: StackHandle) -> None:
    publisher = rt_ws.make_publisher(rt_stack)
    ws = rt_ws.RawWebSocket(rt_stack, rt_stack.token("alice"))
    try:
        ws.send_json({"op": "subscribe", "topics": ["trades:RTE"]})
        time.sleep(0.5)  # let the subscription land (its reply waits unread in the socket)
        for start in range(1, TOTAL, 50):
            publisher.publish("trades.RTE", [rt_ws.trade("RTE", s, s - 1, pad=PAD)
                                             for s in range(start, start + 50)])
        time.sleep(1.0)  # still not reading: the server's queue overflows meanwhile
        trades = 0
        close_code = None
        for opcode, payload in ws.frames():
            if opcode == 0x1 and json.loads(payload)["type"] == "trade":
                trades += 1
            elif opcode == 0x8:
                (close_code,) = struct.unpack("!H", payload[:2])
    finally:
        ws.close()
        publisher.close()
    assert close_code == 4008
    assert trades < TOTAL  # dropped, not delivered in full from an unbounded buffer


def test_a_reading_client_is_not_dropped(rt_stack: StackHandle) -> None:
    publisher = rt_ws.make_publisher(rt_stack)

    async def run() -> int:
        ws = await rt_ws.connect(rt_stack, rt_stack.token("alice"))
        await rt_ws.subscribe(ws, "trades:RTF")
        task = asyncio.create_task(asyncio.to_thread(
            publisher.publish, "trades.RTF", [rt_ws.trade("RTF", s, s - 1) for s in range(1, 301)]))
        count = 0
        while count < 300:
            message = await rt_ws.recv_json(ws, 10)
            count += message["type"] == "trade"
        await task
        await ws.close()
        return count

    assert asyncio.run(run()) == 300
    publisher.close()
