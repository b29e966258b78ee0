"""A per-process cache whose entries are fresh for a fixed time: the one shape behind the
feature flags (tulip/flags.py), the leadership view (tulip/regions.py) and the partition drills
(tulip/drills.py), each read at most once per TTL per process instead of once per request.

Single flight: when an entry expires, one thread reloads it; the other threads meanwhile get the
entry they had (stale by at most the reload's duration) or, when there is none (first use, after
`clear`), wait for that one load. Without it every request in flight reloaded an expired entry at
once: under load the leadership record was read about once per two requests instead of once a
second (docs/benchmarks.md, "Load: smoke and stress"). A thread that asks again while it is
itself loading (simulated threads on one OS thread, tests/sim) loads for itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl_s: float) -> None:
        assert ttl_s > 0, ttl_s
        self.ttl_s = ttl_s
        self._cv = threading.Condition()
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, int] = {}  # key -> the thread loading it
        self._generation = 0  # bumped by clear: a load begun before it is not stored

    def peek(self, key: K) -> V | None:
        """The entry while fresh, else None; never loads."""
        with self._cv:
            entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] < self.ttl_s:
            return entry[1]
        return None

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The fresh entry; else the stale one while another thread reloads it; else `load()`'s
        value, stored as of the moment before it ran."""
        me = threading.get_ident()
        with self._cv:
            while True:
                now = time.monotonic()
                entry = self._entries.get(key)
                if entry is not None and now - entry[0] < self.ttl_s:
                    return entry[1]
                loader = self._loading.get(key)
                if loader is None or loader == me:
                    break
                if entry is not None:
                    return entry[1]
                self._cv.wait()
            self._loading[key] = me
            generation = self._generation
        try:
            value = load()
            with self._cv:
                if generation == self._generation:
                    self._entries[key] = (now, value)
            return value
        finally:
            with self._cv:
                if self._loading.get(key) == me:
                    del self._loading[key]
                self._cv.notify_all()

    def clear(self) -> None:
        with self._cv:
            self._entries.clear()
            self._generation += 1
