"""Shard leases on the real stand-in (matching/storage.py): a take is a compare-and-swap on the
epoch, so of two racing takers exactly one wins; a taken shard fences the old holder's renewals,
releases and commits; a release frees the shard without an expiry to wait for; a failover's take
forks the history where the replica's commits are whole (matching/fork.py)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from matching.storage import CommitRejected, MatcherStorage, advance_shard, transact
from tests.support.stack import StackHandle
from tulip.config import load_config
from tulip.schema import TERM_EPOCHS, EpochItem, ShardItem

NOW = "2026-12-06T00:00:00.000Z"
TERM = 1
FIRST = TERM * TERM_EPOCHS + 1  # the first epoch of the term


def take(store: MatcherStorage, symbol: str, holder: str, observed: ShardItem | None = None,
         term: int = TERM, fork: int | None = None) -> ShardItem | None:
    observed = observed if observed is not None else store.read_shard(symbol)
    return store.take_shard(symbol, holder, observed, term, 10**13, NOW, fork)


@pytest.fixture
def store(stack: StackHandle) -> MatcherStorage:
    return MatcherStorage(load_config(stack.env))


def _symbol() -> str:
    return "L" + uuid.uuid4().hex[:8].upper()


def test_of_two_racing_takers_exactly_one_wins(store: MatcherStorage) -> None:
    symbol = _symbol()
    never_led = store.read_shard(symbol)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: take(store, symbol, f"p{i}", never_led), range(8)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    shard = store.read_shard(symbol)
    assert (shard.epoch, shard.holder, shard.last_seq) == (FIRST, winners[0].holder, 0)


def test_a_take_fences_the_old_holder(store: MatcherStorage) -> None:
    symbol = _symbol()
    first = take(store, symbol, "old")
    assert first is not None and store.renew_lease(symbol, "old", FIRST, 10**13 + 1)
    second = take(store, symbol, "new", first)  # e.g. "old" looked expired
    assert second is not None and second.epoch == FIRST + 1 and second.holder == "new"
    # The old holder can neither renew, nor release, nor commit any more.
    assert not store.renew_lease(symbol, "old", FIRST, 10**13 + 2)
    assert not store.release_shard(symbol, "old", FIRST)
    with pytest.raises(CommitRejected) as refused:
        transact(store.ddb, [advance_shard(store.cfg.trades_table, symbol, FIRST, 0, 1, NOW)])
    assert refused.value.shard_conflict
    assert store.read_shard(symbol).last_seq == 0  # nothing the old holder computed is visible
    # A take against a stale view loses, too.
    assert take(store, symbol, "third", first) is None


def test_a_release_frees_the_shard_and_the_next_take_bumps_the_epoch(store: MatcherStorage) -> None:
    symbol = _symbol()
    assert take(store, symbol, "a") is not None
    transact(store.ddb, [advance_shard(store.cfg.trades_table, symbol, FIRST, 0, 5, NOW)])
    assert store.release_shard(symbol, "a", FIRST)
    released = store.read_shard(symbol)
    assert released.holder is None and released.lease_expires_ms is None
    taken = take(store, symbol, "b", released)
    assert taken is not None and (taken.epoch, taken.last_seq) == (FIRST + 1, 5)  # seq continues


def test_a_failover_take_forks_the_history_where_the_replica_is_whole(
        store: MatcherStorage) -> None:
    symbol = _symbol()
    assert take(store, symbol, "east") is not None
    transact(store.ddb, [advance_shard(store.cfg.trades_table, symbol, FIRST, 0, 7, NOW)])
    # Another leadership takes it; its fork check found seqs 6-7 torn.
    taken = take(store, symbol, "west", term=TERM + 1, fork=5)
    assert taken is not None and (taken.epoch, taken.last_seq) == ((TERM + 1) * TERM_EPOCHS + 1, 5)
    chain = store.chain(symbol)
    assert chain.covers(FIRST, 5) and not chain.covers(FIRST, 6)  # the old epoch's 6-7: off it
    assert chain.covers(taken.epoch, 6)  # the new epoch continues at 6


def test_a_take_after_the_item_went_back_to_an_older_term_starts_a_new_epoch(
        store: MatcherStorage) -> None:
    """The region chaos run at size: the new term's take was replaced by the deposed leader's
    shard write (replication); each retake started the term's first epoch again, whose record
    exists, and was refused at every attempt for half a minute."""
    symbol = _symbol()
    assert take(store, symbol, "east") is not None
    transact(store.ddb, [advance_shard(store.cfg.trades_table, symbol, FIRST, 0, 7, NOW)])
    older = store.read_shard(symbol)
    newer = take(store, symbol, "west", older, term=TERM + 1)
    assert newer is not None and newer.epoch == (TERM + 1) * TERM_EPOCHS + 1
    # The older term's item comes back over it.
    store.ddb.put_item(TableName=store.cfg.trades_table, Item=older.serialize())
    assert store.read_shard(symbol).epoch == FIRST
    again = take(store, symbol, "west", term=TERM + 1)
    assert again is not None and again.epoch == newer.epoch + 1
    assert store.chain(symbol).head == again.epoch


def test_members_are_listed_and_leave(store: MatcherStorage) -> None:
    from tulip.schema import MatcherItem

    holder = f"host:{uuid.uuid4().hex[:6]}"
    store.heartbeat(MatcherItem(holder=holder, sk=holder, expires_ms=10**13, started_at=NOW,
                                shards="A,B"))
    assert holder in {m.holder for m in store.members()}
    store.leave(holder)
    assert holder not in {m.holder for m in store.members()}


def test_a_take_after_another_regions_epoch_forgets_that_queues_sequence_numbers(
        store: MatcherStorage) -> None:
    """SQS sequence numbers are per queue: a lastSqsSeq written by another region's matcher
    would make this region skip every message of its own queue numbered below it."""
    symbol = _symbol()
    first = take(store, symbol, "east")
    assert first is not None
    transact(store.ddb, [advance_shard(store.cfg.trades_table, symbol, FIRST, 0, 0, NOW,
                                       sqs_seq=10**19)])
    here = store.read_shard(symbol)
    # Our own region's epoch, however many terms ago: the same queue, the number still counts.
    assert store.same_queue(symbol, here, TERM) and store.same_queue(symbol, here, TERM + 1)
    store.ddb.update_item(
        TableName=store.cfg.trades_table, UpdateExpression="SET #r = :r",
        Key={"pk": {"S": EpochItem.key(symbol)}, "sk": {"S": EpochItem.sort_key(FIRST)}},
        ExpressionAttributeNames={"#r": "region"},
        ExpressionAttributeValues={":r": {"S": "us-west-2"}})  # as if another region took it
    assert store.same_queue(symbol, here, TERM)  # within a term: one region, one queue
    assert not store.same_queue(symbol, here, TERM + 1)
    taken = store.take_shard(symbol, "west", here, TERM + 1, 10**13, NOW, None,
                             store.same_queue(symbol, here, TERM + 1))
    assert taken is not None and int(taken.last_sqs_seq or 0) == 0
