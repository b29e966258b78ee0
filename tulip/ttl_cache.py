"""A per-process cache whose entries are fresh for a fixed time: the one shape behind the
feature flags (tulip/flags.py), the leadership view (tulip/regions.py) and the partition drills
(tulip/drills.py), each read at most once per TTL per process instead of once per request.
Thread-safe; a load runs outside the lock, so two threads may both load an expired entry (the
later store wins; every load reads the same source of record)."""

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
        self._lock = threading.Lock()
        self._entries: dict[K, tuple[float, V]] = {}

    def peek(self, key: K) -> V | None:
        """The entry while fresh, else None; never loads."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] < self.ttl_s:
            return entry[1]
        return None

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The fresh entry, or `load()`'s value, stored as of the moment before it ran."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl_s:
            return entry[1]
        value = load()
        with self._lock:
            self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
