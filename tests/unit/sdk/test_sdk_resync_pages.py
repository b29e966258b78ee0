"""Resync after a gap pages through GET /poll (timeoutS=0): the server's own messages, the
requested topic only, strictly between the last delivered seq and the message that revealed
the gap; it stops when /poll has nothing past the cursor, and is bounded by max_resync_events."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from tulip_client import Stream, TulipClient

PAGE = 3  # events per /poll answer in this fake (the server's page is larger)


def trade(seq: int, prev: int | None) -> dict[str, Any]:
    return {"type": "trade", "topic": "trades:S", "seq": seq, "prevSeq": prev}


def book(seq: int) -> dict[str, Any]:
    return {"type": "book", "topic": "book:S", "seq": seq, "prevSeq": seq - 1, "bids": [],
            "asks": []}


class FakePoll:
    """A /poll over a store whose every even seq is a trade and every seq a book delta."""

    def __init__(self, head: int) -> None:
        self.head = head
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.calls.append(params)
        assert request.url.path == "/poll" and params["timeoutS"] == "0"
        assert request.headers["Authorization"] == "Bearer tok"
        after = int(params["fromSeq"])
        last = min(self.head, after + PAGE)
        items: list[dict[str, Any]] = []
        for seq in range(after + 1, last + 1):
            if seq % 2 == 0:
                items.append(trade(seq, seq - 2 if seq > 2 else None))
            items.append(book(seq))
        wanted = set(params["topics"].split(","))
        return httpx.Response(200, json={"items": [m for m in items if m["topic"] in wanted],
                                         "lastSeq": last if items else after,
                                         "nextCursor": str(last)})


def replay(fake: FakePoll, topic: str, after: int, before: int,
           **options: Any) -> tuple[list[dict[str, Any]], Stream]:
    async def run() -> tuple[list[dict[str, Any]], Stream]:
        client = TulipClient("http://sdk.test", "tok")
        stream = Stream(client, [topic], **options)
        stream._http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        try:
            return await stream._replay(topic, after, before), stream
        finally:
            await stream.close()
            client.close()

    return asyncio.run(run())


def test_replays_only_the_topic_strictly_inside_the_gap() -> None:
    fake = FakePoll(head=20)
    got, stream = replay(fake, "trades:S", 4, 12)
    assert [(m["seq"], m["prevSeq"]) for m in got] == [(6, 4), (8, 6), (10, 8)]
    assert [c["fromSeq"] for c in fake.calls] == ["4", "7", "10"]  # paged by lastSeq, then done
    assert all(c["topics"] == "trades:S" for c in fake.calls)
    assert stream.stats.resyncs == 1


def test_stops_when_nothing_is_committed_past_the_cursor() -> None:
    fake = FakePoll(head=6)
    got, _ = replay(fake, "book:S", 3, 50)
    assert [m["seq"] for m in got] == [4, 5, 6]
    assert [c["fromSeq"] for c in fake.calls] == ["3", "6"]


def test_bounded_by_max_resync_events() -> None:
    fake = FakePoll(head=10_000)
    got, _ = replay(fake, "book:S", 0, 10_000, max_resync_events=7)
    assert [c["fromSeq"] for c in fake.calls] == ["0", "3", "6"]
    assert [m["seq"] for m in got] == list(range(1, 10))
