"""tulip/ttl_cache.py: an entry is served while fresh, loaded again once expired, dropped by
clear; peek never loads."""

from __future__ import annotations

import time

from tulip.ttl_cache import TtlCache


def test_fresh_entries_are_served_expired_ones_reloaded() -> None:
    loads: list[int] = []
    cache: TtlCache[str, int] = TtlCache(0.05)

    def load() -> int:
        loads.append(len(loads) + 1)
        return loads[-1]

    assert cache.peek("k") is None
    assert cache.get("k", load) == 1 and cache.get("k", load) == 1 and cache.peek("k") == 1
    time.sleep(0.1)  # well past the TTL
    assert cache.peek("k") is None
    assert cache.get("k", load) == 2
    cache.clear()
    assert cache.peek("k") is None and cache.get("k", load) == 3
    assert cache.get("other", load) == 4 and cache.get("k", load) == 3
