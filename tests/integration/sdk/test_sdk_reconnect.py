"""The ASGI server is killed and restarted: the SDK is streaming again within 5 s of the server
being back (the reconnect SLO), and the trades committed while it was down are replayed: no gap."""

from __future__ import annotations

import asyncio
import time

from tulip_client import Stream, TulipClient

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


async def _subscribed(stream: Stream, topic: str) -> None:
    while topic not in stream.last_seq:
        await asyncio.sleep(0.01)


def test_stream_survives_server_restart_without_gap(sdk_stack: StackHandle) -> None:
    publisher = rt_ws.make_publisher(sdk_stack)
    client = TulipClient(sdk_stack.url, sdk_stack.token("alice"))
    before = rt_ws.synthetic_events("SDB", 1, 6)
    during = rt_ws.synthetic_events("SDB", 7, 6)
    after = rt_ws.synthetic_events("SDB", 13, 6)

    async def run() -> tuple[list[dict[str, object]], float]:
        stream = Stream(client, ["trades:SDB"], fallback_after=50).start()
        await asyncio.wait_for(stream.connected.wait(), 10)
        # Live delivery starts at the subscription (its `subscribed` baseline), not at the
        # socket's open, which is what `connected` marks: publish only once the stream has it.
        await asyncio.wait_for(_subscribed(stream, "trades:SDB"), 10)
        await asyncio.to_thread(rt_ws.commit_and_publish, sdk_stack, publisher, "SDB", before)
        got = [await stream.next(10) for _ in range(3)]
        sdk_stack.stack.kill("http")
        # Committed while no server is up: nobody receives these live.
        await asyncio.to_thread(rt_ws.commit_and_publish, sdk_stack, publisher, "SDB", during)
        stream.connected.clear()
        # On this (main) thread, blocking the loop meanwhile: the launcher's children die with the
        # thread that spawned them (PDEATHSIG), so never from a worker thread.
        sdk_stack.stack.start_http()
        back = time.monotonic()
        await asyncio.wait_for(stream.connected.wait(), 10)
        reconnect_s = time.monotonic() - back
        await asyncio.to_thread(rt_ws.commit_and_publish, sdk_stack, publisher, "SDB", after)
        while not any(m["seq"] == 18 for m in got):
            got.append(await stream.next(10))
        await stream.close()
        return got, reconnect_s

    got, reconnect_s = asyncio.run(run())
    assert reconnect_s < 5.0, reconnect_s
    assert [m["seq"] for m in got] == list(range(2, 19, 2))  # every trade, in order, once
    chain = [(m["prevSeq"], m["seq"]) for m in got]
    assert all(prev == seq - 2 for prev, seq in chain[1:]), chain
    client.close()
    publisher.close()
