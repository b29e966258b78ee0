"""tulip.heap.freeze_startup_heap: what exists is frozen, what comes later is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from tulip.heap import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    gc.disable()  # no automatic collection in between: only the calls under test collect
    try:
        yield
    finally:
        gc.unfreeze()  # the test process's own heap goes back to normal
        gc.enable()


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_startup_objects_are_frozen_and_later_cycles_still_collected(unfrozen_after: None) -> None:
    kept = Node()
    frozen = freeze_startup_heap()
    assert frozen == gc.get_freeze_count() > 0
    assert all(obj is not kept for obj in gc.get_objects())  # frozen: no longer walked
    later = _cycle()
    assert later() is not None  # only a cycle keeps it alive now
    gc.collect()
    assert later() is None


def test_startup_garbage_is_collected_before_freezing(unfrozen_after: None) -> None:
    garbage = _cycle()
    freeze_startup_heap()
    assert garbage() is None  # collected first, not frozen forever
