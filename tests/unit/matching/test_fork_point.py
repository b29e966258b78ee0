"""matching/fork.py: where a failover's new epoch continues when replication delivered the
deposed leader's last commits torn (trades table ahead of the orders table, or the reverse)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from matching.engine import SIM_CLIENT_ID
from matching.fork import FORK_WINDOW_EVENTS, OrderMark, changed_orders, fork_point


def opened(seq: int, order_id: str) -> dict[str, Any]:
    return {"seq": seq, "type": "OrderOpened", "payload": {"orderId": order_id}}


def trade(seq: int, maker: str, taker: str, taker_client: str = "bob") -> dict[str, Any]:
    return {"seq": seq, "type": "TradeExecuted", "payload": json.dumps({
        "makerOrderId": maker, "makerClientId": "alice", "takerOrderId": taker,
        "takerClientId": taker_client})}


HISTORY = [opened(1, "m"), opened(2, "x"), trade(3, "m", "t"), trade(4, "x", "u")]


def test_a_whole_history_continues_after_its_last_seq() -> None:
    marks = {"m": OrderMark(3, "FILLED"), "x": OrderMark(4, "PARTIALLY_FILLED"),
             "t": OrderMark(3, "FILLED"), "u": OrderMark(4, "FILLED")}
    assert fork_point(4, 0, HISTORY, marks) == 4


def test_a_commit_whose_order_updates_did_not_arrive_is_cut_off() -> None:
    # The trades table says seq 4 filled x; the orders table still has x as opened at 2 and u
    # not at all: continuing after 4 would fill x's whole qty again.
    marks = {"m": OrderMark(3, "FILLED"), "x": OrderMark(2, "OPEN"), "t": OrderMark(3, "FILLED")}
    assert fork_point(4, 0, HISTORY, marks) == 3


def test_a_missing_event_page_cuts_the_history_before_it() -> None:
    marks = {o: OrderMark(4, "OPEN") for o in "mxtu"}
    assert fork_point(4, 0, [e for e in HISTORY if e["seq"] != 3], marks) == 2


def test_the_earliest_torn_commit_decides() -> None:
    marks = {"m": OrderMark(1, "OPEN"), "x": OrderMark(2, "OPEN"), "t": OrderMark(3, "FILLED")}
    assert fork_point(4, 0, HISTORY, marks) == 2


def test_an_order_a_commit_closed_reflects_every_earlier_event() -> None:
    # m's cancel was sequenced after seq 4 (beyond the window's last seq): off the book's index.
    marks = {"m": OrderMark(1, "CANCELLED"), "x": OrderMark(4, "OPEN"), "t": OrderMark(3, "FILLED"),
             "u": OrderMark(4, "FILLED")}
    assert fork_point(4, 0, HISTORY, marks) == 4


def user_cancel(seq: int, order_id: str) -> dict[str, Any]:
    return {"seq": seq, "type": "OrderCancelled", "payload": {"orderId": order_id, "reason": "user"}}


def test_a_user_cancel_whose_sequencing_did_not_arrive_is_cut_off() -> None:
    # A region chaos run (docs/reliability.md, seed 2203): the replica held the owner's CANCELLED
    # write (POST /cancel: still on the index) but not the commit of seq 5 that sequenced it.
    # Continuing after 5 would rebuild x as a cancel still to sequence: cancelled twice.
    history = [*HISTORY, user_cancel(5, "x")]
    marks = {"m": OrderMark(3, "FILLED"), "t": OrderMark(3, "FILLED"), "u": OrderMark(4, "FILLED")}
    assert fork_point(5, 0, history, {**marks, "x": OrderMark(4, "CANCELLED", resting=True)}) == 4
    assert fork_point(5, 0, history, {**marks, "x": OrderMark(5, "CANCELLED")}) == 5


def test_which_orders_a_commit_wrote() -> None:
    assert changed_orders(trade(5, "m", "sim-1", taker_client=SIM_CLIENT_ID)) == ["m"]
    assert changed_orders({"seq": 6, "type": "CancelRejected", "payload": {"orderId": "z"}}) == []
    assert changed_orders(user_cancel(7, "z")) == ["z"]
    assert changed_orders({"seq": 8, "type": "Reconciled", "payload": {"cancels": ["a", "b"]}}) \
        == ["a", "b"]


def test_only_the_window_is_judged() -> None:
    marks = {"x": OrderMark(4, "OPEN"), "u": OrderMark(4, "FILLED")}
    assert fork_point(4, 3, HISTORY, marks) == 4  # seqs 1-3 lie below the floor
    with pytest.raises(AssertionError):
        fork_point(FORK_WINDOW_EVENTS + 2, 1, [], {})
