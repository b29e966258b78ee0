"""A shard's canonical history across epochs (docs/architecture.md, "Regions"). Pure.

Every take of a shard records an epoch (tulip.schema.EpochItem): the seq it started after and the
epoch it continued. Normally that is one straight line and every committed event is canonical.
After a region failover, a deposed leader may have committed a tail the new leader never saw
(asynchronous replication): the new leader's epoch continued an older one from an earlier seq,
and once the regions heal both tails exist, with their own epochs and keys. The canonical history
is the chain of parents from the newest epoch: epoch e of the chain covers the seqs after its
start up to the start of the epoch that continued it. Everything else is off the chain: kept
(history is never deleted), not served as market data, and reconciled (ops).

Events and trades written before epochs were recorded, or ops' compensations on a shard no
matcher ever led, carry epoch 0 (or none): the root every chain begins with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROOT = 0
MAX_CHAIN = 100_000  # bounds the walk; a shard would need that many takes to reach it


@dataclass(frozen=True, slots=True)
class EpochStart:
    epoch: int
    parent: int
    start_seq: int  # the last seq before this epoch's first


@dataclass(frozen=True, slots=True)
class Chain:
    """(epoch, first seq, last seq or None for the head) for each epoch on the canonical chain.
    The first span may be the unrecorded history before the oldest recorded take: any epoch
    without a record (0, none, or one from before epochs were recorded) belongs to it."""

    spans: tuple[tuple[int, int, int | None], ...]
    recorded: frozenset[int] = frozenset()

    def covers(self, epoch: int | None, seq: int) -> bool:
        epoch = epoch or ROOT
        for index, (e, first, last) in enumerate(self.spans):
            unrecorded = index == 0 and e not in self.recorded and epoch not in self.recorded
            if (e == epoch or unrecorded) and seq >= first and (last is None or seq <= last):
                return True
        return False

    @property
    def head(self) -> int:
        return self.spans[-1][0] if self.spans else ROOT


def canonical(starts: Iterable[EpochStart]) -> Chain:
    by_epoch = {s.epoch: s for s in starts}
    if not by_epoch:
        return Chain(((ROOT, 1, None),))
    chain: list[EpochStart] = []
    current: EpochStart | None = by_epoch[max(by_epoch)]
    for _ in range(MAX_CHAIN):
        if current is None:
            break
        chain.append(current)
        current = by_epoch.get(current.parent)
    chain.reverse()  # oldest first
    # An epoch ends where the first later epoch on the chain starts, not only its child: a take
    # may fork before its parent's own start (torn commits reaching back past the deposed
    # leader's last takes, matching/fork.py), and the epochs it forked past then cover nothing
    # beyond that point; each seq stays covered once.
    ends: list[int | None] = [None] * len(chain)
    later: int | None = None
    for index in range(len(chain) - 1, -1, -1):
        ends[index] = later
        start = chain[index].start_seq
        later = start if later is None else min(later, start)
    spans: list[tuple[int, int, int | None]] = []
    if chain[0].parent not in by_epoch:
        # The oldest recorded epoch continued the root (or an epoch whose record is gone):
        # everything up to its start belongs to whatever preceded it.
        spans.append((chain[0].parent, 1, later))
    for index, epoch in enumerate(chain):
        spans.append((epoch.epoch, epoch.start_seq + 1, ends[index]))
    return Chain(tuple(spans), frozenset(by_epoch))
