"""Group commit for the request threads of one process (docs/benchmarks.md, "Accept path over
HTTP"): callers that need the same kind of AWS call at the same moment share one call.

A caller hands its item to `submit` and blocks until its own outcome is known. When no call is
in flight it makes one at once with whatever is waiting (at least its own item), so a lone caller
pays nothing extra; callers that arrive while a call is in flight wait for it to end and then
ride together in the next one. No timer, no background thread: the batch is what piled up during
one call, which is exactly when batching pays. Each caller's outcome is its own: `flush` returns
one result or exception per item, in order, and an exception `flush` itself raises is every
item's outcome.

Bounded: a call carries at most `max_batch` items; the waiting list holds at most one item per
blocked request thread (the server bounds those).

Re-entrant: a thread that submits while it is itself making a call (possible where threads are
simulated on one OS thread, tests/sim) makes its own call alone instead of waiting for itself."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False, slots=True)
class _Slot(Generic[T, R]):
    item: T
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class Combiner(Generic[T, R]):
    def __init__(self, flush: Callable[[Sequence[T]], Sequence[R | BaseException]],
                 max_batch: int) -> None:
        assert max_batch >= 1, max_batch
        self._flush = flush
        self._max_batch = max_batch
        self._cv = threading.Condition()
        self._pending: list[_Slot[T, R]] = []
        self._busy_thread: int | None = None  # the thread making the call in flight
        self.calls = 0  # flushes made (tests and benchmarks read it)

    def submit(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        me = threading.get_ident()
        with self._cv:
            alone = self._busy_thread == me
            if not alone:
                self._pending.append(slot)
        if alone:
            self._run([slot], shared=False)
        while not slot.done:
            with self._cv:
                while not slot.done and self._busy_thread is not None:
                    self._cv.wait()
                if slot.done:
                    break
                batch = self._take()
                self._busy_thread = me
            self._run(batch)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]  # R may itself admit None

    def _take(self) -> list[_Slot[T, R]]:
        """Up to max_batch waiting items, oldest first."""
        batch = self._pending[:self._max_batch]
        del self._pending[:self._max_batch]
        assert batch, "the caller's own item is always waiting when it takes"
        return batch

    def _run(self, batch: list[_Slot[T, R]], shared: bool = True) -> None:
        try:
            outcomes: Sequence[R | BaseException] = self._flush([s.item for s in batch])
            if len(outcomes) != len(batch):
                raise AssertionError(f"flush gave {len(outcomes)} outcomes for {len(batch)} items")
        except BaseException as exc:  # every waiter must be released; each re-raises it
            outcomes = [exc] * len(batch)
        with self._cv:
            for slot, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    slot.error = outcome
                else:
                    slot.result = outcome
                slot.done = True
            self.calls += 1
            if shared:
                self._busy_thread = None
                self._cv.notify_all()
