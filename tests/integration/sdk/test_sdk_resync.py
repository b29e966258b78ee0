"""A message dropped in flight is detected by the client SDK (prevSeq ≠ last seq) and replayed
from GET /poll before the message that revealed the gap."""

from __future__ import annotations

import asyncio

from tulip_client import Stream, TulipClient

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


def test_dropped_messages_are_detected_and_resynced(sdk_stack: StackHandle) -> None:
    publisher = rt_ws.make_publisher(sdk_stack)
    client = TulipClient(sdk_stack.url, sdk_stack.token("alice"))
    events = rt_ws.synthetic_events("SDA", 1, 20)

    async def run() -> tuple[list[dict[str, object]], int]:
        stream = Stream(client, ["trades:SDA", "book:SDA"]).start()
        await asyncio.wait_for(stream.connected.wait(), 10)
        snapshot = await stream.next(10)
        assert snapshot["type"] == "snapshot"
        # seq 6 (a trade + its book delta) and 9 (a book delta) never reach the socket.
        await asyncio.to_thread(rt_ws.commit_and_publish, sdk_stack, publisher, "SDA", events,
                                frozenset({6, 9}))
        got: list[dict[str, object]] = []
        while not all(any(m["type"] == k and m["seq"] == 20 for m in got) for k in ("book", "trade")):
            got.append(await stream.next(10))
        gaps = stream.stats.gaps
        await stream.close()
        return got, gaps

    got, gaps = asyncio.run(run())
    books = [m["seq"] for m in got if m["type"] == "book"]
    trades = [m["seq"] for m in got if m["type"] == "trade"]
    assert books == list(range(1, 21))
    assert trades == list(range(2, 21, 2))
    assert gaps >= 2
    client.close()
    publisher.close()
