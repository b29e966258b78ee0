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
    marks = {"m": OrderMark(3), "x": OrderMark(4),
             "t": OrderMark(3), "u": OrderMark(4)}
    assert fork_point(4, 0, HISTORY, marks) == 4


def test_a_commit_whose_order_updates_did_not_arrive_is_cut_off() -> None:
    # The trades table says seq 4 filled x; the orders table still has x as opened at 2 and u
    # not at all: continuing after 4 would fill x's whole qty again.
    marks = {"m": OrderMark(3), "x": OrderMark(2), "t": OrderMark(3)}
    assert fork_point(4, 0, HISTORY, marks) == 3


def test_a_missing_event_page_cuts_the_history_before_it() -> None:
    marks = {o: OrderMark(4) for o in "mxtu"}
    assert fork_point(4, 0, [e for e in HISTORY if e["seq"] != 3], marks) == 2


def test_the_earliest_torn_commit_decides() -> None:
    marks = {"m": OrderMark(1), "x": OrderMark(2), "t": OrderMark(3)}
    assert fork_point(4, 0, HISTORY, marks) == 2


def test_a_user_cancel_keeps_the_seq_of_the_version_it_cancelled() -> None:
    # m was cancelled by its owner after seq 3 filled part of it: POST /cancel writes no seq, so
    # the item keeps 3, and the history is whole.
    marks = {"m": OrderMark(3), "x": OrderMark(4), "t": OrderMark(3), "u": OrderMark(4)}
    assert fork_point(4, 0, HISTORY, marks) == 4


def test_a_cancel_made_on_a_version_without_the_fill_cuts_the_history_before_it() -> None:
    # Simulation seed 3634: m cancelled in this region on a replica that had m only as opened at
    # 1; the old leader's fill of m at seq 3 then lost to that cancel, last writer wins. Closed,
    # but not as far along as seq 3: a new epoch must not continue after a fill no item holds.
    marks = {"m": OrderMark(1), "x": OrderMark(4), "t": OrderMark(3), "u": OrderMark(4)}
    assert fork_point(4, 0, HISTORY, marks) == 2


def test_simulated_counterparties_and_refused_cancels_write_no_order() -> None:
    assert changed_orders(trade(5, "m", "sim-1", taker_client=SIM_CLIENT_ID)) == ["m"]
    assert changed_orders({"seq": 6, "type": "CancelRejected", "payload": {"orderId": "z"}}) == []
    assert changed_orders({"seq": 7, "type": "OrderCancelled",
                           "payload": {"orderId": "z", "reason": "user"}}) == []
    assert changed_orders({"seq": 8, "type": "Reconciled", "payload": {"cancels": ["a", "b"]}}) \
        == ["a", "b"]


def test_only_the_window_is_judged() -> None:
    marks = {"x": OrderMark(4), "u": OrderMark(4)}
    assert fork_point(4, 3, HISTORY, marks) == 4  # seqs 1-3 lie below the floor
    with pytest.raises(AssertionError):
        fork_point(FORK_WINDOW_EVENTS + 2, 1, [], {})
