"""GET /poll returns exactly what the socket sent after fromSeq (same topics, same owner), as
soon as something exists, else after timeoutS."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle

STREAM_TYPES = ("trade", "book", "orderStatus")


def _ordered(messages: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(messages, key=lambda m: (m["seq"], str(m["topic"])))


def test_poll_equals_what_the_socket_sent(rt_stack: StackHandle) -> None:
    maker = str(uuid.uuid4())
    token = rt_stack.forge_token(sub=maker, username="maker")
    publisher = rt_ws.make_publisher(rt_stack)
    events = rt_ws.synthetic_events("RTH", 1, 12, client_ids=(maker, str(uuid.uuid4())))
    topics = ["trades:RTH", "book:RTH", "orderStatus"]

    async def socket_messages() -> list[dict[str, object]]:
        ws = await rt_ws.connect(rt_stack, token)
        await rt_ws.subscribe(ws, *topics)
        await asyncio.to_thread(rt_ws.commit_and_publish, rt_stack, publisher, "RTH", events)
        got: list[dict[str, object]] = []
        while not all(any(m["type"] == kind and m["seq"] == 12 for m in got)
                      for kind in ("book", "trade")):
            message = await rt_ws.recv_json(ws, 10)
            if message["type"] in STREAM_TYPES:
                got.append(message)
        await ws.close()
        return got

    socket_got = asyncio.run(socket_messages())
    with rt_stack.http(token, timeout=40) as http:
        polled = http.get("/poll", params={"topics": ",".join(topics), "fromSeq": 0,
                                           "timeoutS": 5}).json()
        # From the middle of the stream: the tail, chained exactly as on the socket.
        tail = http.get("/poll", params={"topics": ",".join(topics), "fromSeq": 5,
                                         "timeoutS": 5}).json()
    # Per topic the order is the seq order on both paths; across topics the socket interleaves
    # by group publication, so compare in (seq, topic) order.
    assert _ordered(polled["items"]) == _ordered(socket_got)
    assert polled["lastSeq"] == 12
    assert _ordered(tail["items"]) == _ordered([m for m in socket_got if m["seq"] > 5])
    # The maker's orderStatus is there; the taker's is not (it is someone else's).
    owners = {m["order"]["clientId"] for m in polled["items"] if m["type"] == "orderStatus"}  # type: ignore[index]
    assert owners == {maker}
    publisher.close()


def test_poll_waits_then_answers_when_an_event_commits(rt_stack: StackHandle) -> None:
    token = rt_stack.token("alice")
    with rt_stack.http(token, timeout=40) as http:
        started = time.monotonic()
        empty = http.get("/poll", params={"topics": "trades:RTI", "fromSeq": 0, "timeoutS": 1})
        waited = time.monotonic() - started
        events = rt_ws.synthetic_events("RTI", 1, 2)
        timer = threading.Timer(1.0, rt_ws.store_events, (rt_stack, events))
        timer.start()
        started = time.monotonic()
        woke = http.get("/poll", params={"topics": "trades:RTI", "fromSeq": 0, "timeoutS": 20})
        answered = time.monotonic() - started
        timer.join()
        bad = http.get("/poll", params={"topics": "trades:RTI", "fromSeq": 0, "timeoutS": 26})
    assert empty.status_code == 200 and empty.json()["items"] == [] and 0.9 < waited < 4
    assert [m["seq"] for m in woke.json()["items"]] == [2] and answered < 5
    assert bad.status_code == 400
