"""The matcher's fan-out off the critical path (matching.loop.OrderedPublisher): one symbol's
committed batches are delivered in commit order, a full queue holds the matcher back instead of
dropping a batch, a failing publish does not stop later ones, and closing delivers everything
already submitted. No stack needed; nothing here is timed."""

from __future__ import annotations

import threading
from typing import Any

from matching.loop import CycleBreakdown, OrderedPublisher
from matching.services import Publication


class FakeMatcher:
    symbol = "OP"

    def __init__(self, fail_on: int | None = None) -> None:
        self.delivered: list[int] = []
        self.gate = threading.Event()
        self.fail_on = fail_on

    def deliver(self, publication: Publication) -> None:
        assert self.gate.wait(30), "test gate never opened"
        seq = int(publication.events[0]["seq"])
        if seq == self.fail_on:
            raise RuntimeError("redis down")
        self.delivered.append(seq)


def _publication(seq: int) -> Publication:
    return Publication([{"seq": seq, "type": "OrderOpened"}], {"seq": seq}, 0.0)


def _publisher(matcher: FakeMatcher, capacity: int) -> OrderedPublisher:
    publisher = OrderedPublisher(matcher, CycleBreakdown(), capacity=capacity)  # type: ignore[arg-type]
    publisher.start()
    return publisher


def test_delivered_in_commit_order_and_flushed_on_close() -> None:
    matcher = FakeMatcher()
    matcher.gate.set()
    publisher = _publisher(matcher, capacity=4)
    for seq in range(1, 201):
        publisher.submit(_publication(seq))
    publisher.close(timeout=30)
    assert matcher.delivered == list(range(1, 201))
    assert not publisher.thread.is_alive()


def test_a_full_queue_holds_the_matcher_back_and_drops_nothing() -> None:
    matcher = FakeMatcher()
    publisher = _publisher(matcher, capacity=2)
    submitted: list[int] = []

    def matcher_thread() -> None:
        for seq in range(1, 11):
            publisher.submit(_publication(seq))
            submitted.append(seq)

    producer = threading.Thread(target=matcher_thread)
    producer.start()
    producer.join(timeout=1)
    # Delivery is stuck: at most one batch in delivery plus `capacity` queued were accepted.
    assert producer.is_alive()
    assert len(submitted) <= 3
    assert publisher.pending.qsize() <= 2
    matcher.gate.set()
    producer.join(timeout=30)
    publisher.close(timeout=30)
    assert matcher.delivered == list(range(1, 11))


def test_a_failed_publish_does_not_stop_later_ones() -> None:
    matcher = FakeMatcher(fail_on=3)
    matcher.gate.set()
    publisher = _publisher(matcher, capacity=8)
    for seq in range(1, 7):
        publisher.submit(_publication(seq))
    publisher.close(timeout=30)
    assert matcher.delivered == [1, 2, 4, 5, 6]


def test_breakdown_counts_deliveries() -> None:
    matcher = FakeMatcher()
    matcher.gate.set()
    breakdown = CycleBreakdown()
    publisher = OrderedPublisher(matcher, breakdown, capacity=2)  # type: ignore[arg-type]
    publisher.start()
    publisher.submit(_publication(1))
    publisher.close(timeout=30)
    summary: dict[str, Any] = breakdown.summary()
    assert summary["deliveries"] == 1
