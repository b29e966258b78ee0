"""A (re)started matcher primes its fan-out before it takes a batch: the top-of-book snapshot is in
Redis again before any new order (here Redis lost it while the matcher was down), and the first
trade after the restart chains (prevSeq) to the last trade committed before it. A user cancel
whose CancelRequested never reaches the matcher (lost, or stranded in a queue nobody consumes
after a failover) is sequenced by the next matcher to rebuild the book."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import redis

from tests.support import ws as rt_ws
from tests.support.ledger import assert_ledger, events, orders, shard_last_seq, trades, wait_until_matched
from tests.support.orders import drain_queue
from tests.support.stack import start_stack
from tests.support.trading import Trader

SYMBOL = "RSM"


def test_restart_republishes_the_book_and_keeps_the_trade_chain(tmp_path: Path) -> None:
    handle = start_stack(tmp_path / "stack", symbols=SYMBOL)
    try:
        maker, taker = Trader(handle, "resume-maker"), Trader(handle, "resume-taker")
        placed = [maker.place(SYMBOL, "SELL", 1, "10.00")["orderId"] for _ in range(3)]
        placed.append(taker.place(SYMBOL, "BUY", 1, "10.00", "IOC")["orderId"])
        placed.append(maker.place(SYMBOL, "BUY", 4, "9.50")["orderId"])
        wait_until_matched(handle, placed, 60)
        last_trade = max(int(t["seq"]["N"]) for t in trades(handle, SYMBOL))
        seq_before = shard_last_seq(handle, SYMBOL)
        assert last_trade < seq_before  # the resting bid came after the trade

        handle.stack.stop_child("matcher-1")
        store = redis.Redis.from_url(handle.env["REDIS_URL"])
        key = f"{handle.env['REDIS_KEY_PREFIX']}:book:{SYMBOL}"
        store.delete(key)  # only this stack's own key (its prefix is unique)
        handle.stack.start_matcher()  # returns once the loop runs

        raw = store.get(key)
        assert raw is not None, "no book snapshot after the matcher's start"
        snapshot = json.loads(raw)
        assert snapshot["seq"] == seq_before
        assert snapshot["asks"] == [{"price": "10.00", "qty": 2, "orders": 2}]
        assert snapshot["bids"] == [{"price": "9.50", "qty": 4, "orders": 1}]

        async def first_trade_after_restart() -> dict[str, Any]:
            socket = await rt_ws.connect(handle, taker.http.headers["Authorization"][7:])
            try:
                await rt_ws.subscribe(socket, f"trades:{SYMBOL}")
                crossing = await asyncio.to_thread(taker.place, SYMBOL, "BUY", 1, "10.00", "IOC")
                placed.append(crossing["orderId"])
                message, _ = await rt_ws.recv_until(socket, lambda m: m["type"] == "trade", 30)
                return message
            finally:
                await socket.close()

        trade = asyncio.run(first_trade_after_restart())
        assert trade["seq"] > seq_before
        assert trade["prevSeq"] == last_trade
        wait_until_matched(handle, placed, 60)
        assert_ledger(handle, SYMBOL)

        # The resting bid is cancelled while no matcher runs, and its CancelRequested is lost.
        bid = placed[4]
        handle.stack.stop_child("matcher-1")
        assert maker.http.post("/cancel", json={"orderId": bid}).status_code == 200
        assert "openSymbol" in orders(handle, SYMBOL)[bid]  # the book has not sequenced it yet
        assert [m["type"] for m in drain_queue(handle, 0.5)] == ["CancelRequested"]
        handle.stack.start_matcher()
        deadline = time.monotonic() + 30
        while not [e for e in events(handle, SYMBOL) if e["type"] == "OrderCancelled"]:
            assert time.monotonic() < deadline, "the rebuilt book did not sequence the cancel"
            time.sleep(0.2)
        [cancel] = [e for e in events(handle, SYMBOL) if e["type"] == "OrderCancelled"]
        assert (cancel["payload"]["orderId"], cancel["payload"]["reason"]) == (bid, "user")
        assert cancel["seq"] == shard_last_seq(handle, SYMBOL)
        assert orders(handle, SYMBOL)[bid]["cancelReason"]["S"] == "user"
        assert_ledger(handle, SYMBOL)  # off the openOrders index, seqs gap-free
    finally:
        handle.stop()
