"""tulip/ttl_cache.py: an entry is served while fresh, loaded again once expired, dropped by
clear; peek never loads; one thread loads at a time (single flight)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

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


def _in_threads(count: int, target: Callable[[], int]) -> list[int]:
    got: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        value = target()
        with lock:
            got.append(value)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    return got


def test_an_expired_entry_is_reloaded_by_one_thread_while_the_others_get_the_stale_one() -> None:
    cache: TtlCache[str, int] = TtlCache(0.05)
    loads: list[int] = []
    release = threading.Event()

    def slow_load() -> int:
        loads.append(len(loads) + 1)
        assert release.wait(10)
        return 100 + len(loads)

    assert cache.get("k", lambda: 1) == 1
    time.sleep(0.1)  # expired
    loader = threading.Thread(target=lambda: cache.get("k", slow_load))
    loader.start()
    while not loads:
        time.sleep(0.001)
    assert sorted(_in_threads(16, lambda: cache.get("k", slow_load))) == [1] * 16
    release.set()
    loader.join(10)
    assert loads == [1] and cache.get("k", slow_load) == 101


def test_with_no_entry_every_thread_waits_for_the_one_load() -> None:
    cache: TtlCache[str, int] = TtlCache(5.0)
    loads: list[int] = []

    def slow_load() -> int:
        loads.append(1)
        time.sleep(0.05)
        return 7

    assert _in_threads(16, lambda: cache.get("k", slow_load)) == [7] * 16
    assert loads == [1]


def test_a_failed_load_lets_a_waiting_thread_load_instead() -> None:
    cache: TtlCache[str, int] = TtlCache(5.0)
    attempts: list[int] = []

    def flaky_load() -> int:
        attempts.append(1)
        time.sleep(0.02)
        if len(attempts) == 1:
            raise OSError("the source of record is down")
        return 9

    def get_or_minus_one() -> int:
        try:
            return cache.get("k", flaky_load)
        except OSError:
            return -1

    got = _in_threads(8, get_or_minus_one)
    assert sorted(got) == [-1] + [9] * 7 and len(attempts) == 2


def test_a_load_begun_before_clear_is_not_kept() -> None:
    cache: TtlCache[str, int] = TtlCache(5.0)

    def load_then_clear() -> int:
        cache.clear()  # ops saved a change while this read was in flight
        return 1

    assert cache.get("k", load_then_clear) == 1
    assert cache.get("k", lambda: 2) == 2
