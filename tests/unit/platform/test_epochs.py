"""The canonical chain of a shard's epochs (tulip/epochs.py): one straight line covers every
seq once; after a split, the new leader's line wins and the deposed leader's tail is off it."""

from __future__ import annotations

from tulip.epochs import EpochStart, canonical

T1, T2 = 1_000_001, 2_000_001


def test_no_recorded_epoch_covers_everything_as_the_root() -> None:
    chain = canonical([])
    assert chain.covers(0, 1) and chain.covers(None, 10**9)


def test_a_straight_line_of_takes_covers_each_seq_with_the_epoch_that_wrote_it() -> None:
    chain = canonical([EpochStart(T1, 0, 0), EpochStart(T1 + 1, T1, 50),
                       EpochStart(T1 + 2, T1 + 1, 80)])
    assert chain.covers(T1, 1) and chain.covers(T1, 50) and not chain.covers(T1, 51)
    assert chain.covers(T1 + 1, 51) and chain.covers(T1 + 1, 80)
    assert chain.covers(T1 + 2, 81) and chain.covers(T1 + 2, 10**6)
    assert chain.head == T1 + 2


def test_after_a_split_the_deposed_tail_is_off_the_chain() -> None:
    # Term 1 leader committed up to 120, but the new leader (term 2) had replicated only up to
    # 100 when it took over: seqs 101..120 of epoch T1 are the deposed tail.
    chain = canonical([EpochStart(T1, 0, 0), EpochStart(T2, T1, 100)])
    assert chain.covers(T1, 100) and not chain.covers(T1, 101) and not chain.covers(T1, 120)
    assert chain.covers(T2, 101) and chain.covers(T2, 120)


def test_history_from_before_epochs_were_recorded_is_the_first_span() -> None:
    chain = canonical([EpochStart(T1, 7, 40)])  # epoch 7 has no record
    assert chain.covers(None, 40) and chain.covers(7, 1) and not chain.covers(7, 41)
    assert chain.covers(T1, 41)


def test_a_fork_before_the_parents_own_start_covers_each_seq_once() -> None:
    # Found by the region chaos run: the deposed leader's last epochs (T1 + 1 from 48, T1 + 2 from
    # 53) and a take that forked at 50 (torn commits reached back into T1 + 1), continuing the
    # observed epoch T1 + 2. Seqs 51.. are T2's alone; T1 + 1 keeps 49..50, T1 + 2 nothing.
    chain = canonical([EpochStart(T1, 0, 0), EpochStart(T1 + 1, T1, 48),
                       EpochStart(T1 + 2, T1 + 1, 53), EpochStart(T2, T1 + 2, 50)])
    assert chain.covers(T1, 48) and not chain.covers(T1, 49)
    assert chain.covers(T1 + 1, 50) and not chain.covers(T1 + 1, 51)
    assert not any(chain.covers(T1 + 2, seq) for seq in range(1, 200))
    assert chain.covers(T2, 51) and chain.covers(T2, 60)
    for seq in range(1, 120):
        assert sum(chain.covers(e, seq) for e in (T1, T1 + 1, T1 + 2, T2)) == 1, seq
