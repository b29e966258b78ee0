"""FOK, post-only and each self-trade prevention mode end to end through the pipeline: HTTP POST
/order -> DynamoDB -> the symbol's SQS FIFO queue -> the matcher -> committed events -> the
WebSocket (orderStatus and trade messages on the trader's own socket), then the state of record
through REST and the ledger check (docs/rules.md, "Matching rules")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support import ws as rt_ws
from tests.support.ledger import assert_ledger, wait_until_matched
from tests.support.stack import StackHandle, start_stack
from tests.support.trading import Trader

SYMBOLS = "FK,PO,SN,SO,SB"  # one shard per test: their ledgers stay apart


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    handle = start_stack(Path(tmp_path_factory.mktemp("options")), symbols=SYMBOLS)
    try:
        yield handle
    finally:
        handle.stop()


def _token(trader: Trader) -> str:
    return str(trader.http.headers["Authorization"])[len("Bearer "):]


class Inbox:
    """One trader's socket, with every message it delivered kept: a trade and an orderStatus of
    the same command travel different groups and may arrive in either order."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.seen: list[dict[str, Any]] = []

    async def wait(self, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        for message in self.seen:
            if predicate(message):
                return message
        message, skipped = await rt_ws.recv_until(self.socket, predicate, timeout)
        self.seen.extend(skipped)
        self.seen.append(message)
        return message

    async def status(self, order_id: str, status: str) -> dict[str, Any]:
        """The orderStatus message that brings `order_id` to `status`."""
        message = await self.wait(lambda m: m["type"] == "orderStatus" and m["order"]["orderId"]
                                  == order_id and m["order"]["status"] == status)
        order: dict[str, Any] = message["order"]
        return order

    async def trade(self, symbol: str) -> dict[str, Any]:
        return await self.wait(lambda m: m["type"] == "trade" and m["topic"] == f"trades:{symbol}")

    async def close(self) -> None:
        await self.socket.close()


async def _socket(stack: StackHandle, trader: Trader, symbol: str) -> Inbox:
    socket = await rt_ws.connect(stack, _token(trader))
    await rt_ws.subscribe(socket, f"trades:{symbol}", f"book:{symbol}", "orderStatus")
    return Inbox(socket)


async def _place(trader: Trader, symbol: str, side: str, qty: int, price: str, tif: str = "GTC",
                 **extra: Any) -> dict[str, Any]:
    return await asyncio.to_thread(trader.place, symbol, side, qty, price, tif, **extra)


def test_fok_is_all_or_nothing_through_the_pipeline(pipeline: StackHandle) -> None:
    maker, taker = Trader(pipeline, "fk-maker"), Trader(pipeline, "fk-taker")

    async def run() -> tuple[dict[str, Any], ...]:
        socket = await _socket(pipeline, taker, "FK")
        try:
            await _place(maker, "FK", "SELL", 5, "100.00")
            short = await _place(taker, "FK", "BUY", 8, "100.00", "FOK")
            killed = await socket.status(short["orderId"], "CANCELLED")
            whole = await _place(taker, "FK", "BUY", 5, "100.00", "FOK")
            filled = await socket.status(whole["orderId"], "FILLED")
            trade = await socket.trade("FK")
            return short, killed, whole, filled, trade
        finally:
            await socket.close()

    short, killed, whole, filled, trade = asyncio.run(run())
    assert (killed["cancelReason"], killed["filledQty"]) == ("fok_unfilled", 0)
    assert filled["filledQty"] == 5 and filled["lastFill"]["qty"] == 5
    assert (trade["qty"], trade["price"], trade["takerSide"]) == (5, "100.00", "BUY")
    assert taker.order(short["orderId"])["status"] == "CANCELLED"
    rest = taker.order(whole["orderId"])
    assert (rest["status"], rest["timeInForce"], rest["avgFillPrice"]) == ("FILLED", "FOK", "100.00")
    assert_ledger(pipeline, "FK")


def test_post_only_rests_or_is_cancelled_never_takes(pipeline: StackHandle) -> None:
    maker, poster = Trader(pipeline, "po-maker"), Trader(pipeline, "po-poster")

    async def run() -> tuple[dict[str, Any], ...]:
        socket = await _socket(pipeline, poster, "PO")
        try:
            resting = await _place(maker, "PO", "SELL", 5, "100.00")
            crossing = await _place(poster, "PO", "BUY", 3, "100.00", postOnly=True)
            refused = await socket.status(crossing["orderId"], "CANCELLED")
            passive = await _place(poster, "PO", "BUY", 3, "99.99", postOnly=True)
            opened = await socket.status(passive["orderId"], "OPEN")
            return resting, refused, passive, opened
        finally:
            await socket.close()

    resting, refused, passive, opened = asyncio.run(run())
    assert (refused["cancelReason"], refused["filledQty"]) == ("post_only", 0)
    assert opened["remaining"] == 3
    assert maker.order(resting["orderId"])["filledQty"] == 0  # nothing traded
    book = poster.http.get("/book?symbol=PO").json()
    assert book["bids"] == [{"price": "99.99", "qty": 3, "orders": 1}]
    assert book["asks"] == [{"price": "100.00", "qty": 5, "orders": 1}]
    assert poster.http.get("/trades?symbol=PO").json()["items"] == []
    assert poster.order(passive["orderId"])["postOnly"] is True
    assert_ledger(pipeline, "PO")


def test_stp_cancel_newest_cancels_the_incoming_order(pipeline: StackHandle) -> None:
    me = Trader(pipeline, "sn-self")

    async def run() -> tuple[dict[str, Any], ...]:
        socket = await _socket(pipeline, me, "SN")
        try:
            resting = await _place(me, "SN", "SELL", 5, "100.00")
            await socket.status(resting["orderId"], "OPEN")
            incoming = await _place(me, "SN", "BUY", 5, "100.00",
                                    selfTradePrevention="cancelNewest")
            cancelled = await socket.status(incoming["orderId"], "CANCELLED")
            return resting, incoming, cancelled
        finally:
            await socket.close()

    resting, incoming, cancelled = asyncio.run(run())
    assert incoming["selfTradePrevention"] == "cancelNewest"
    assert (cancelled["cancelReason"], cancelled["filledQty"]) == ("self_trade", 0)
    assert me.order(resting["orderId"])["status"] == "OPEN"  # the resting order stays
    assert me.http.get("/trades?symbol=SN").json()["items"] == []
    assert_ledger(pipeline, "SN")


def test_stp_cancel_oldest_cancels_the_resting_order_and_keeps_matching(
        pipeline: StackHandle) -> None:
    me, other = Trader(pipeline, "so-self"), Trader(pipeline, "so-other")

    async def run() -> tuple[dict[str, Any], ...]:
        socket = await _socket(pipeline, me, "SO")
        try:
            mine = await _place(me, "SO", "SELL", 5, "100.00")
            await socket.status(mine["orderId"], "OPEN")
            theirs = await _place(other, "SO", "SELL", 2, "100.00")  # behind mine in time
            await asyncio.to_thread(wait_until_matched, pipeline, [theirs["orderId"]])
            incoming = await _place(me, "SO", "BUY", 4, "100.00",
                                    selfTradePrevention="cancelOldest")
            oldest = await socket.status(mine["orderId"], "CANCELLED")
            partial = await socket.status(incoming["orderId"], "PARTIALLY_FILLED")
            trade = await socket.trade("SO")
            return mine, theirs, incoming, oldest, partial, trade
        finally:
            await socket.close()

    _mine, theirs, incoming, oldest, partial, trade = asyncio.run(run())
    assert incoming["selfTradePrevention"] == "cancelOldest"
    assert (oldest["cancelReason"], oldest["filledQty"]) == ("self_trade", 0)
    assert (partial["filledQty"], partial["remaining"]) == (2, 2)  # the GTC remainder rests
    assert (trade["qty"], trade["price"]) == (2, "100.00")
    assert other.order(theirs["orderId"])["status"] == "FILLED"
    book = me.http.get("/book?symbol=SO").json()
    assert book["bids"] == [{"price": "100.00", "qty": 2, "orders": 1}] and book["asks"] == []
    assert_ledger(pipeline, "SO")


def test_stp_cancel_both_cancels_both_orders(pipeline: StackHandle) -> None:
    me = Trader(pipeline, "sb-self")

    async def run() -> tuple[dict[str, Any], ...]:
        socket = await _socket(pipeline, me, "SB")
        try:
            resting = await _place(me, "SB", "SELL", 5, "100.00")
            await socket.status(resting["orderId"], "OPEN")
            incoming = await _place(me, "SB", "BUY", 3, "100.00", selfTradePrevention="cancelBoth")
            both = (await socket.status(resting["orderId"], "CANCELLED"),
                    await socket.status(incoming["orderId"], "CANCELLED"))
            return resting, incoming, *both
        finally:
            await socket.close()

    _resting, incoming, old, new = asyncio.run(run())
    assert incoming["selfTradePrevention"] == "cancelBoth"
    assert old["cancelReason"] == new["cancelReason"] == "self_trade"
    book = me.http.get("/book?symbol=SB").json()
    assert book["bids"] == [] and book["asks"] == []
    assert me.http.get("/trades?symbol=SB").json()["items"] == []
    assert_ledger(pipeline, "SB")


def test_decrement_is_not_offered(pipeline: StackHandle) -> None:
    me = Trader(pipeline, "decrement")
    response = me.http.post("/order", json={"symbol": "SB", "side": "BUY", "qty": 1,
                                            "price": "1.00", "idempotencyKey": "dec-1",
                                            "selfTradePrevention": "decrement"})
    assert response.status_code == 400
    assert "selfTradePrevention" in response.json()["error"]["details"]
