"""book:<s> subscribe -> subscribed + snapshot (5 levels, the published snapshot = GET /book's
source), then only deltas newer than the snapshot."""

from __future__ import annotations

import asyncio

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


def _levels(side: str, n: int) -> list[dict[str, object]]:
    step = -1 if side == "bids" else 1
    return [{"price": f"{100 + step * (i + 1)}.00", "qty": 10 + i, "orders": 1} for i in range(n)]


def test_subscribe_book_gets_snapshot_then_newer_deltas(rt_stack: StackHandle) -> None:
    publisher = rt_ws.make_publisher(rt_stack)
    snapshot = {"symbol": "RTA", "seq": 7, "bids": _levels("bids", 8), "asks": _levels("asks", 8),
                "ts": "2026-01-01T00:00:00.000Z"}
    publisher.publish_book_snapshot("RTA", snapshot)

    async def run() -> tuple[list[dict[str, object]], dict[str, object]]:
        ws = await rt_ws.connect(rt_stack, rt_stack.token("alice"))
        replies = await rt_ws.subscribe(ws, "book:RTA")
        stale = {"type": "book", "topic": "book:RTA", "seq": 6, "prevSeq": 5, "bids": [], "asks": []}
        fresh = {"type": "book", "topic": "book:RTA", "seq": 8, "prevSeq": 7,
                 "bids": [{"price": "99.00", "qty": 0, "orders": 0}], "asks": []}
        await asyncio.to_thread(publisher.publish, "book.RTA", [stale, fresh])
        delta, before = await rt_ws.recv_until(ws, lambda m: m["type"] == "book")
        await ws.close()
        assert not [m for m in before if m["type"] == "book"]
        return replies, delta

    replies, delta = asyncio.run(run())
    subscribed, snap = replies
    assert subscribed == {"type": "subscribed", "topic": "book:RTA", "seq": 7}
    assert snap["type"] == "snapshot" and snap["topic"] == "book:RTA" and snap["seq"] == 7
    assert snap["bids"] == snapshot["bids"][:5] and snap["asks"] == snapshot["asks"][:5]
    assert delta["seq"] == 8 and delta["prevSeq"] == 7  # the stale seq-6 delta was filtered
    with rt_stack.http(rt_stack.token("alice")) as http:
        book = http.get("/book", params={"symbol": "RTA"}).json()
    assert (book["seq"], book["bids"], book["asks"]) == (snap["seq"], snap["bids"], snap["asks"])
    publisher.close()


def test_bad_topic_is_an_error_message_not_a_close(rt_stack: StackHandle) -> None:
    async def run() -> dict[str, object]:
        ws = await rt_ws.connect(rt_stack, rt_stack.token("alice"))
        await ws.send('{"op":"subscribe","topics":["candles:RTA"]}')
        error = await rt_ws.recv_json(ws)
        await ws.send('{"op":"ping"}')
        await rt_ws.recv_until(ws, lambda m: m["type"] == "pong")
        await ws.close()
        return error

    error = asyncio.run(run())
    assert error["type"] == "error" and error["code"] == "validation_error"
