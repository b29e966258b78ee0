"""orders/recent_keys.py: a bounded memory of keys, the oldest forgotten first."""

from __future__ import annotations

from orders.recent_keys import RecentKeys


def test_keys_are_remembered_up_to_the_bound_and_the_oldest_go_first() -> None:
    keys = RecentKeys(max_keys=3)
    for key in ("a", "b", "c"):
        keys.add(key)
    assert all(key in keys for key in ("a", "b", "c"))
    keys.add("a")  # seen again: now the newest
    keys.add("d")  # over the bound: "b", the oldest, goes
    assert "b" not in keys
    assert all(key in keys for key in ("a", "c", "d"))
    assert len(keys) == 3
