"""Shard leases on the real stand-in (matching/storage.py): a take is a compare-and-swap on the
epoch, so of two racing takers exactly one wins; a taken shard fences the old holder's renewals,
releases and commits; a release frees the shard without an expiry to wait for."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from matching.storage import CommitRejected, MatcherStorage, advance_shard, transact
from tests.support.stack import StackHandle
from tulip.config import load_config

NOW = "2026-12-06T00:00:00.000Z"


@pytest.fixture
def store(stack: StackHandle) -> MatcherStorage:
    return MatcherStorage(load_config(stack.env))


def _symbol() -> str:
    return "L" + uuid.uuid4().hex[:8].upper()


def test_of_two_racing_takers_exactly_one_wins(store: MatcherStorage) -> None:
    symbol = _symbol()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: store.take_shard(symbol, f"p{i}", 0, 10**13, NOW),
                                range(8)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    shard = store.read_shard(symbol)
    assert (shard.epoch, shard.holder, shard.last_seq) == (1, winners[0].holder, 0)


def test_a_take_fences_the_old_holder(store: MatcherStorage) -> None:
    symbol = _symbol()
    first = store.take_shard(symbol, "old", 0, 10**13, NOW)
    assert first is not None and store.renew_lease(symbol, "old", 1, 10**13 + 1)
    second = store.take_shard(symbol, "new", 1, 10**13, NOW)  # e.g. "old" looked expired
    assert second is not None and second.epoch == 2 and second.holder == "new"
    # The old holder can neither renew, nor release, nor commit any more.
    assert not store.renew_lease(symbol, "old", 1, 10**13 + 2)
    assert not store.release_shard(symbol, "old", 1)
    with pytest.raises(CommitRejected) as refused:
        transact(store.ddb, [advance_shard(store.cfg.trades_table, symbol, 1, 0, 1, NOW)])
    assert refused.value.shard_conflict
    assert store.read_shard(symbol).last_seq == 0  # nothing the old holder computed is visible
    # A take against a stale view loses, too.
    assert store.take_shard(symbol, "third", 1, 10**13, NOW) is None


def test_a_release_frees_the_shard_and_the_next_take_bumps_the_epoch(store: MatcherStorage) -> None:
    symbol = _symbol()
    assert store.take_shard(symbol, "a", 0, 10**13, NOW) is not None
    transact(store.ddb, [advance_shard(store.cfg.trades_table, symbol, 1, 0, 5, NOW)])
    assert store.release_shard(symbol, "a", 1)
    released = store.read_shard(symbol)
    assert released.holder is None and released.lease_expires_ms is None
    taken = store.take_shard(symbol, "b", released.epoch, 10**13, NOW)
    assert taken is not None and (taken.epoch, taken.last_seq) == (2, 5)  # seq continues


def test_members_are_listed_and_leave(store: MatcherStorage) -> None:
    from tulip.schema import MatcherItem

    holder = f"host:{uuid.uuid4().hex[:6]}"
    store.heartbeat(MatcherItem(holder=holder, sk=holder, expires_ms=10**13, started_at=NOW,
                                shards="A,B"))
    assert holder in {m.holder for m in store.members()}
    store.leave(holder)
    assert holder not in {m.holder for m in store.members()}
