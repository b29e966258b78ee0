"""The WebSocket stream of the real matcher: an order run through HTTP -> SQS -> matcher -> Redis ->
/ws. The trades and book chains are gap-free by prevSeq, and the snapshot plus every delta
reproduces GET /book at the final seq."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from realtime.messages import apply_book_delta, sorted_levels
from tests.support import ws as rt_ws
from tests.support.ledger import assert_ledger, shard_last_seq, wait_until_matched
from tests.support.stack import StackHandle
from tests.support.trading import Trader

SYMBOL = "MG"
ORDERS = 1_000  # each one a command of the matcher; crossing and resting mixed
TRADERS = 3


def _flow(count: int) -> list[tuple[int, str, int, str, str]]:
    rng = random.Random(5)
    flow = []
    for _ in range(count):
        side = rng.choice(("BUY", "SELL"))
        offset = rng.randint(0, 8)
        price = 5_000 + (offset if side == "BUY" else -offset) - (4 if side == "BUY" else -4)
        flow.append((rng.randrange(TRADERS), side, rng.randint(1, 4), f"{price / 100:.2f}",
                     "IOC" if rng.random() < 0.2 else "GTC"))
    return flow


def _place_all(traders: list[Trader]) -> list[str]:
    """Each trader submits its share of the flow in order, the three of them at once."""
    flow = _flow(ORDERS)

    def place(index: int) -> list[str]:
        return [traders[index].place(SYMBOL, side, qty, price, tif)["orderId"]
                for trader, side, qty, price, tif in flow if trader == index]

    with ThreadPoolExecutor(TRADERS) as pool:
        return [order_id for ids in pool.map(place, range(TRADERS)) for order_id in ids]


def test_stream_chains_and_book_agree_with_rest(stack: StackHandle) -> None:
    traders = [Trader(stack, f"s{i}") for i in range(TRADERS)]

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        socket = await rt_ws.connect(stack, traders[0].http.headers["Authorization"][7:])
        replies = await rt_ws.subscribe(socket, f"trades:{SYMBOL}", f"book:{SYMBOL}")
        # The socket is read while the orders go in and get matched: a reader that stops
        # reading is a slow consumer, and the server rightly closes it (4008).

        async def settle() -> int:
            placed = await asyncio.to_thread(_place_all, traders)
            assert len(placed) == ORDERS
            await asyncio.to_thread(wait_until_matched, stack, placed, 300)
            return int(await asyncio.to_thread(shard_last_seq, stack, SYMBOL))

        settling = asyncio.ensure_future(settle())
        received: list[dict[str, Any]] = []
        book_seq = 0
        while not (settling.done() and book_seq >= settling.result()):
            message = await rt_ws.recv_json(socket, 60)  # heartbeats arrive every 5 s
            received.append(message)
            if message.get("type") == "book":
                book_seq = max(book_seq, message["seq"])
        await socket.close()
        return replies, received

    replies, received = asyncio.run(run())
    snapshot = next(r for r in replies if r["type"] == "snapshot")
    trades_subscribed = next(r for r in replies if r["type"] == "subscribed"
                             and r["topic"] == f"trades:{SYMBOL}")

    trades = [m for m in received if m["type"] == "trade"]
    assert trades, "no trade reached the socket"
    expected_prev = trades_subscribed.get("seq", 0)
    for message in trades:
        assert message["prevSeq"] == expected_prev, "gap in the trades chain"
        expected_prev = message["seq"]

    deltas = [m for m in received if m["type"] == "book" and m["seq"] > snapshot["seq"]]
    levels = {"bids": {lv["price"]: lv for lv in snapshot["bids"]},
              "asks": {lv["price"]: lv for lv in snapshot["asks"]}}
    expected_prev = snapshot["seq"]
    for delta in deltas:
        assert delta["prevSeq"] == expected_prev, "gap in the book chain"
        expected_prev = delta["seq"]
        apply_book_delta(levels["bids"], delta["bids"])
        apply_book_delta(levels["asks"], delta["asks"])

    book = traders[0].http.get(f"/book?symbol={SYMBOL}&depth=5").json()
    assert book["seq"] == expected_prev
    assert sorted_levels(levels["bids"], "bids", 5) == book["bids"]
    assert sorted_levels(levels["asks"], "asks", 5) == book["asks"]
    assert_ledger(stack, SYMBOL)
