"""After repeated socket failures the SDK falls back to GET /poll and delivers the same
sequence; when the socket works again it goes back to it."""

from __future__ import annotations

import asyncio

from tulip_client import Backoff, Stream, TulipClient

from devstack.launcher import free_port
from realtime.messages import messages_for_events
from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


def test_poll_fallback_delivers_the_same_sequence_and_returns(sdk_stack: StackHandle) -> None:
    publisher = rt_ws.make_publisher(sdk_stack)
    client = TulipClient(sdk_stack.url, sdk_stack.token("alice"))
    events = rt_ws.synthetic_events("SDC", 1, 10)

    async def run() -> tuple[list[dict[str, object]], list[str], int]:
        dead = f"ws://127.0.0.1:{free_port()}/ws"  # nothing listens: every connect fails
        stream = Stream(client, ["trades:SDC", "book:SDC"], ws_url=dead, fallback_after=3,
                        backoff=Backoff(base_s=0.05, cap_s=0.2), poll_period_s=3,
                        poll_timeout_s=1).start()
        while stream.mode != "poll":
            await asyncio.sleep(0.05)
        snapshot = await stream.next(10)
        assert snapshot["type"] == "snapshot"
        await asyncio.to_thread(rt_ws.commit_and_publish, sdk_stack, publisher, "SDC", events)
        got: list[dict[str, object]] = []
        while not all(any(m["type"] == k and m["seq"] == 10 for m in got) for k in ("book", "trade")):
            got.append(await stream.next(10))
        stream.ws_url_override = None  # the socket is healthy again
        await asyncio.wait_for(stream.connected.wait(), 15)
        modes = list(stream.stats.mode_changes)
        polls = stream.stats.polls
        await stream.close()
        return got, modes, polls

    got, modes, polls = asyncio.run(run())
    want = [m for m in messages_for_events("SDC", events, {"trades:SDC": 0})
            if m["type"] in ("trade", "book")]
    assert sorted(got, key=lambda m: (m["seq"], str(m["topic"]))) == \
        sorted(want, key=lambda m: (m["seq"], str(m["topic"])))
    assert polls >= 1
    assert modes[:2] == ["poll", "socket"]
    client.close()
    publisher.close()
