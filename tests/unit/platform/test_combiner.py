"""tulip/combiner.py: concurrent callers share one call, each gets its own outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from tulip.combiner import Combiner


class Refused(Exception):
    pass


def test_a_lone_caller_makes_its_own_call_at_once() -> None:
    calls: list[list[int]] = []

    def flush(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        return [item * 2 for item in items]

    combiner: Combiner[int, int] = Combiner(flush, max_batch=10)
    assert combiner.submit(21) == 42
    assert combiner.submit(5) == 10
    assert calls == [[21], [5]]


Flush = Callable[[Sequence[int]], Sequence["int | BaseException"]]


def _blocking_flush(gate: threading.Event, started: threading.Event,
                    calls: list[list[int]]) -> Flush:
    def flush(items: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(items))
        if len(calls) == 1:  # hold the first call in flight while the others arrive
            started.set()
            assert gate.wait(10)
        return [Refused(item) if item % 3 == 0 else item * 2 for item in items]
    return flush


def _submit_all(combiner: Combiner[int, int],
                items: list[int]) -> tuple[dict[int, object], list[threading.Thread]]:
    outcomes: dict[int, object] = {}

    def run(item: int) -> None:
        try:
            outcomes[item] = combiner.submit(item)
        except Refused as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return outcomes, threads


def _wait_pending(combiner: Combiner[int, int], count: int) -> None:
    for _ in range(1000):
        with combiner._cv:
            if len(combiner._pending) == count:
                return
        threading.Event().wait(0.005)
    raise AssertionError(f"never saw {count} waiting")


@pytest.mark.parametrize("max_batch", [25, 4])
def test_callers_arriving_during_a_call_ride_together_in_the_next(max_batch: int) -> None:
    gate, started = threading.Event(), threading.Event()
    calls: list[list[int]] = []
    combiner: Combiner[int, int] = Combiner(_blocking_flush(gate, started, calls), max_batch)
    first, first_threads = _submit_all(combiner, [1])
    assert started.wait(10)
    outcomes, threads = _submit_all(combiner, list(range(2, 14)))  # 12 more while 1 is in flight
    _wait_pending(combiner, 12)
    gate.set()
    for thread in [*first_threads, *threads]:
        thread.join(10)
        assert not thread.is_alive()
    assert calls[0] == [1]
    assert sorted(item for call in calls[1:] for item in call) == list(range(2, 14))
    assert all(len(call) <= max_batch for call in calls)
    assert len(calls) == 1 + -(-12 // max_batch)  # the 12 waited together, in as few calls as fit
    assert combiner.calls == len(calls)
    everything = {**first, **outcomes}
    for item in range(1, 14):  # each caller got its own item's outcome
        outcome = everything[item]
        if item % 3 == 0:
            assert isinstance(outcome, Refused) and outcome.args == (item,)
        else:
            assert outcome == item * 2


def test_a_failing_call_fails_every_caller_in_it_and_releases_them() -> None:
    def flush(items: Sequence[int]) -> list[int]:
        raise Refused("down")

    combiner: Combiner[int, int] = Combiner(flush, max_batch=10)
    with pytest.raises(Refused):
        combiner.submit(1)
    with pytest.raises(Refused):  # not left busy
        combiner.submit(2)


def test_a_call_that_submits_from_its_own_thread_does_not_wait_for_itself() -> None:
    calls: list[list[int]] = []
    combiner: Combiner[int, int]

    def flush(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        if items == [1]:
            assert combiner.submit(2) == 20  # nested, as simulated threads do on one OS thread
        return [item * 10 for item in items]

    combiner = Combiner(flush, max_batch=10)
    assert combiner.submit(1) == 10
    assert calls == [[1], [2]]
