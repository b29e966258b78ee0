"""Messages built by messages_for_events and sent through ChannelsPublisher (the matcher's path)
arrive in order with seq/prevSeq chained, per topic, across many batches."""

from __future__ import annotations

import asyncio
from itertools import pairwise

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle

BATCHES = 25
COMMANDS_PER_BATCH = 8


def test_trade_and_book_chains_are_gap_free(rt_stack: StackHandle) -> None:
    publisher = rt_ws.make_publisher(rt_stack)

    async def run() -> list[dict[str, object]]:
        ws = await rt_ws.connect(rt_stack, rt_stack.token("alice"))
        await rt_ws.subscribe(ws, "trades:RTB", "book:RTB")

        def publish_all() -> None:
            seq = 1
            for _ in range(BATCHES):
                # No last_seqs: the publisher itself chains the first trade of each batch.
                events = rt_ws.synthetic_events("RTB", seq, COMMANDS_PER_BATCH)
                rt_ws.publish_events(publisher, "RTB", events)
                seq += len(events)

        await asyncio.to_thread(publish_all)
        total = BATCHES * COMMANDS_PER_BATCH
        got: list[dict[str, object]] = []
        while (sum(1 for m in got if m["type"] == "book") < total
               or sum(1 for m in got if m["type"] == "trade") < total // 2):
            got.append(await rt_ws.recv_json(ws, 10))
        await ws.close()
        return got

    got = asyncio.run(run())
    for topic in ("trades:RTB", "book:RTB"):
        chain = [m for m in got if m.get("topic") == topic]
        assert chain, topic
        for earlier, later in pairwise(chain):
            assert later["prevSeq"] == earlier["seq"], (topic, earlier, later)
    books = [m for m in got if m.get("topic") == "book:RTB"]
    assert [m["seq"] for m in books] == list(range(1, BATCHES * COMMANDS_PER_BATCH + 1))
    trades = [m for m in got if m.get("topic") == "trades:RTB"]
    assert len(trades) == BATCHES * COMMANDS_PER_BATCH // 2
    publisher.close()
