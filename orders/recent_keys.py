"""The idempotency keys this process recently accepted or answered, as a hint for retries.

A new order is written first and its idempotency record read only when the write finds the key
taken (orders/services.py): one transaction and one send for the common case. A retry on that
path costs a transaction that fails, and, when it shared a group commit with other orders
(tulip/combiner.py), a second transaction for those others: a replay in a batch makes every order
of the batch wait for two rounds. A key this process has seen is read first instead; the read is
strongly consistent, and only when it finds the record is the order answered as a replay, so the
hint never changes an answer: a key it does not know (another process saw it, or it was forgotten)
takes the write path as before, and so does a key whose record has gone (its TTL). Bounded:
the oldest keys go first once MAX_KEYS are held."""

from __future__ import annotations

import threading

MAX_KEYS = 50_000  # ~100 bytes a key: a few MB per process


class RecentKeys:
    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        assert max_keys > 0, max_keys
        self._max = max_keys
        self._keys: dict[str, None] = {}  # insertion-ordered: the oldest first
        self._lock = threading.Lock()

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)
            self._keys[key] = None
            while len(self._keys) > self._max:
                del self._keys[next(iter(self._keys))]
