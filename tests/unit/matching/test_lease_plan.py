"""The lease plan (matching/leases.py): fair shares over the live processes, never above the cap,
free and expired shards taken, extras given back, our own stale name not blocking a take."""

from __future__ import annotations

import random

from matching import leases
from tulip.schema import MatcherItem, ShardItem

NOW = 1_000_000
SYMBOLS = ("A", "B", "C", "D")


TERM = 1
EPOCH = 1_000_001  # an epoch of term 1, the leadership these plans run under


def _shard(symbol: str, holder: str | None = None, expires: int | None = None,
           epoch: int = EPOCH) -> ShardItem:
    key = ShardItem.key(symbol)
    return ShardItem(key, key, symbol=symbol, holder=holder, lease_expires_ms=expires, epoch=epoch)


def _member(holder: str, expires: int = NOW + 5000) -> MatcherItem:
    return MatcherItem(MatcherItem.PARTITION, holder, holder=holder, expires_ms=expires,
                       started_at="t")


def _plan(shards: dict[str, ShardItem], members: list[MatcherItem], held: list[str],
          me: str = "p1", cap: int = 100) -> leases.LeasePlan:
    return leases.plan(me, shards, members, held, NOW, cap, random.Random(7))


def test_a_lone_process_takes_every_free_shard() -> None:
    result = _plan({s: _shard(s) for s in SYMBOLS}, [], [])
    assert sorted(s.symbol for s in result.take) == list(SYMBOLS)
    assert (result.target, result.live, result.release) == (4, 1, ())


def test_two_live_processes_take_half_each_and_leave_the_rest() -> None:
    shards = {s: _shard(s) for s in SYMBOLS}
    result = _plan(shards, [_member("p2")], [])
    assert len(result.take) == 2 and result.target == 2 and result.live == 2


def test_live_leases_of_others_are_not_taken_expired_ones_are() -> None:
    shards = {"A": _shard("A", "p2", NOW + 100), "B": _shard("B", "p2", NOW - 1),
              "C": _shard("C"), "D": _shard("D", "p3", NOW + 100)}
    # p2 and p3 have left the membership (expired): p1 is alone, so its share is all four,
    # but only the free (C) and expired (B) shards may be taken.
    result = _plan(shards, [_member("p2", NOW - 10), _member("p3", NOW - 10)], [])
    assert [s.symbol for s in result.take] == ["C", "B"]  # never-held first, then expired
    assert result.take[1].epoch == EPOCH  # the take is conditioned on the epoch read


def test_a_process_above_its_share_gives_the_extras_back() -> None:
    shards = {s: _shard(s, "p1", NOW + 1000) for s in SYMBOLS}
    result = _plan(shards, [_member("p2")], list(SYMBOLS))
    assert result.release == ("C", "D") and result.take == ()


def test_the_cap_limits_a_process_and_an_extra_process_idles() -> None:
    shards = {s: _shard(s) for s in SYMBOLS}
    assert len(_plan(shards, [], [], cap=3).take) == 3
    held = {"A": _shard("A", "p1", NOW + 1000), "B": _shard("B", "p2", NOW + 1000)}
    # Three processes, two shards: the share is one each; p3 holds nothing and takes nothing.
    idle = _plan(held, [_member("p1"), _member("p2")], [], me="p3")
    assert idle.take == () and idle.target == 1


def test_a_holder_of_an_older_term_is_fenced_out_and_a_newer_term_is_left_alone() -> None:
    shards = {"A": _shard("A", "p9", NOW + 5000, epoch=5),  # term 0: before the failover
              "B": _shard("B", "p9", NOW + 5000, epoch=2_000_001)}  # term 2: newer than ours
    assert [s.symbol for s in _plan(shards, [], []).take] == ["A"]


def test_a_follower_region_holds_nothing() -> None:
    shards = {s: _shard(s, "p1", NOW + 1000) for s in SYMBOLS}
    result = leases.plan("p1", shards, [], ["A", "B"], NOW, 100, random.Random(1), TERM,
                         leads=False)
    assert result.release == ("A", "B") and result.take == () and result.target == 0


def test_our_own_name_on_a_shard_we_do_not_hold_is_free_to_us() -> None:
    shards = {"A": _shard("A", "p1", NOW + 5000)}
    assert [s.symbol for s in _plan(shards, [], []).take] == ["A"]


def test_fair_share_rounds_up_so_every_shard_has_a_home() -> None:
    assert leases.fair_share(5, 2, 100) == 3
    assert leases.fair_share(64, 16, 100) == 4
    assert leases.fair_share(64, 16, 2) == 2
