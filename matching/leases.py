"""Which shards this matcher process should hold: the lease plan (docs/architecture.md, "Shard
leases"). Pure: what the process read of the shard items and the live members in, the shards to
take and to give back out. The loop (matching/loop.py) carries the plan out through
matching/storage.py; every take there is conditioned on the epoch read here, so two processes
acting on the same stale view cannot both win.

Fair share: each live process aims for ceil(shards / live processes), capped by
MATCHER_MAX_SHARDS. A process above its share gives shards back (at batch boundaries); one below
takes free shards, and shards whose lease expired by this process's clock. Clocks only decide
when to try: a process whose clock runs fast tries a take early and, if the holder is alive, its
take fences the holder out; the holder's next commit then fails and it drops the shard, so the
shard keeps exactly one writer either way. Skew costs liveness, never correctness.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tulip.schema import MatcherItem, ShardItem, epoch_term


@dataclass(frozen=True, slots=True)
class LeasePlan:
    take: tuple[ShardItem, ...]  # as read: their epoch is the take's condition
    release: tuple[str, ...]
    target: int  # how many shards this process aims to hold
    live: int  # live matcher processes, this one included


def live_holders(members: Iterable[MatcherItem], me: str, now_ms: int) -> set[str]:
    return {m.holder for m in members if m.expires_ms > now_ms} | {me}


def fair_share(shards: int, live: int, cap: int) -> int:
    assert live >= 1 and cap >= 0
    return min(cap, math.ceil(shards / live))


def is_free(shard: ShardItem, me: str, now_ms: int, term: int) -> bool:
    """No holder, a holder whose lease has run out (by this clock), or a holder from an older
    leadership term (a region that led before a failover: its leases end with its term). Our own
    name on a shard we do not hold (a lease this process let go of but not yet released) counts
    as free too. A shard already taken under a NEWER term is never ours: this process's view of
    the leadership is stale."""
    shard_term = epoch_term(shard.epoch or 0)
    if shard_term > term:
        return False
    return (shard.holder is None or shard.holder == me or shard_term < term
            or (shard.lease_expires_ms or 0) <= now_ms)


def plan(me: str, shards: Mapping[str, ShardItem], members: Iterable[MatcherItem],
         held: Iterable[str], now_ms: int, cap: int, rng: random.Random,
         term: int = 1, leads: bool = True) -> LeasePlan:
    """What to take and what to give back, from one consistent-enough view. A process of a region
    that does not lead holds nothing (docs/architecture.md, "Regions")."""
    held_now = sorted(held)
    live = len(live_holders(members, me, now_ms))
    if not leads:
        return LeasePlan((), tuple(held_now), 0, live)
    target = fair_share(len(shards), live, cap)
    if len(held_now) > target:
        # Give back the newest-named extras; the others' work continues undisturbed.
        return LeasePlan((), tuple(held_now[target:]), target, live)
    wanted = target - len(held_now)
    free = [s for symbol, s in sorted(shards.items())
            if symbol not in held_now and is_free(s, me, now_ms, term)]
    # Never-held shards first (nobody to fence), then expired ones; shuffled within each so
    # processes starting together do not all race for the same shard.
    unheld = [s for s in free if s.holder is None]
    expired = [s for s in free if s.holder is not None]
    rng.shuffle(unheld)
    rng.shuffle(expired)
    return LeasePlan(tuple((unheld + expired)[:wanted]), (), target, live)
