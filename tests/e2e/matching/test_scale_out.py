"""Matcher scale-out (docs/architecture.md, "Shard leases"): several matcher processes split the
shards by lease; a killed process's shards are taken over by the others and come back when the
supervisor has restarted it; a frozen holder whose lease was taken cannot commit anything.

Every run ends with the ledger's invariants per shard (zero double fills, seq gap-free from 1 to
lastSeq across epochs, every acked order matched), each shard's book equal to one uninterrupted
engine's on the same commands, and every queue empty (nothing left undeleted)."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from matching.faults import RELEASE_FILE_ENV
from tests.support.crash_run import assert_book_equals_reference, order_flow
from tests.support.ledger import assert_ledger, shard_last_seq, wait_until_matched
from tests.support.stack import StackHandle, start_stack
from tests.support.trading import Trader
from tulip.schema import TERM_EPOCHS

SYMBOLS = ["SOA", "SOB", "SOC", "SOD"]
# Short leases so takeovers fit a test: a killed holder's shards are free after 2 s, and the batch
# it had in flight is back in its queue after the same 2 s.
FAST_LEASES = {"MATCHER_LEASE_TTL_S": "2", "SWEEPER_INTERVAL_S": "2", "SWEEPER_MIN_AGE_S": "2"}


def _scale_out_stack(tmp_path: Path, matchers: int, symbols: list[str],
                     component_env: dict[str, dict[str, str]] | None = None,
                     supervise: bool = True) -> StackHandle:
    return start_stack(tmp_path / "stack", symbols=",".join(symbols), matchers=matchers,
                       events_visibility_timeout_s=2, extra_env=FAST_LEASES,
                       component_env=component_env or {}, supervise=supervise)


def _holders(handle: StackHandle) -> dict[str, tuple[str | None, int]]:
    return {row["symbol"]: (row["process"] or None, row["epoch"])
            for row in handle.stack.shard_holders()}


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def _queues_empty(handle: StackHandle) -> bool:
    sqs = handle.boto("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    for symbol in handle.symbols:
        attributes = sqs.get_queue_attributes(QueueUrl=handle.queue_url(symbol),
                                              AttributeNames=names)["Attributes"]
        if any(int(attributes.get(name, "0")) for name in names):
            return False
    return True


def _run_with_kills(tmp_path: Path, count: int, kills: int, seed: int) -> None:
    handle = _scale_out_stack(tmp_path, 2, SYMBOLS)
    try:
        _wait_for(lambda: {p for p, _ in _holders(handle).values()} == {"matcher-1", "matcher-2"},
                  30, "the two processes split the four shards")
        traders = [Trader(handle, f"t{i}") for i in range(4)]
        rng = random.Random(seed)
        kill_at = set(rng.sample(range(count // 10, count - count // 10), kills))
        placed: list[tuple[dict[str, Any], tuple[int, str, int, int, str]]] = []
        for index, spec in enumerate(order_flow(count, seed)):
            trader, side, qty, price, tif = spec
            symbol = SYMBOLS[index % len(SYMBOLS)]
            order = traders[trader].place(symbol, side, qty, f"{price / 100:.2f}", tif)
            placed.append((order, spec))
            if index in kill_at:
                victim = rng.choice(handle.stack.matcher_names)
                if handle.stack.children[victim].process.poll() is None:
                    handle.stack.kill(victim)  # the supervisor starts it again after a backoff
        wait_until_matched(handle, [o["orderId"] for o, _ in placed], timeout=180)
        _wait_for(lambda: _queues_empty(handle), 60, "every message deleted")
        for symbol in SYMBOLS:
            assert_ledger(handle, symbol)  # gap-free 1..lastSeq across every epoch, no overfill
            assert_book_equals_reference(handle, traders, placed, symbol)
        # An epoch's low digits count the takes within the region's leadership term.
        takes = {symbol: epoch % TERM_EPOCHS for symbol, (_, epoch) in _holders(handle).items()}
        assert max(takes.values()) > 1, f"no shard ever changed hands: {takes}"
        # Both processes are alive again and share the shards once more.
        _wait_for(lambda: {p for p, _ in _holders(handle).values()} == {"matcher-1", "matcher-2"},
                  60, "the restarted process took its share back")
        log = (handle.stack.options.state_dir / "logs" / "supervisor.log").read_text()
        assert log.count("restarted") >= 1, log
    finally:
        handle.stop()


def test_kill_matcher_processes_repeatedly_under_steady_submits(tmp_path: Path) -> None:
    _run_with_kills(tmp_path, count=160, kills=3, seed=18)


@pytest.mark.slow
def test_kill_matcher_processes_many_times(tmp_path: Path) -> None:
    _run_with_kills(tmp_path, count=2000, kills=20, seed=1800)


def test_a_frozen_holder_whose_lease_was_taken_cannot_commit(tmp_path: Path) -> None:
    """matcher-1 freezes itself (SIGSTOP) with its 3rd batch computed but not committed;
    matcher-2 takes the shard over when the lease runs out and matches everything; SIGCONT then
    wakes matcher-1, whose commit is refused by the fenced condition: it drops the shard."""
    symbol = "SOF"
    release = tmp_path / "release-matcher-1"
    handle = _scale_out_stack(tmp_path, 1, [symbol], supervise=False,
                              component_env={"matcher-1": {
                                  "TULIP_MATCHER_CRASH": "before_commit:3:stop",
                                  RELEASE_FILE_ENV: str(release)}})
    try:
        handle.stack.start_matcher(2)  # idles: the one shard is held by matcher-1
        frozen = handle.stack.children["matcher-1"]
        trader, other = Trader(handle, "a"), Trader(handle, "b")
        placed = []
        for index in range(12):
            side = "SELL" if index % 2 == 0 else "BUY"
            placed.append(((trader if index % 4 < 2 else other).place(
                symbol, side, 1 + index % 3, "10.00"), None))
            time.sleep(0.05)
        _wait_for(lambda: _holders(handle)[symbol][0] == "matcher-2", 30,
                  "matcher-2 took over the frozen holder's shard")
        wait_until_matched(handle, [o["orderId"] for o, _ in placed], timeout=60)
        seq_before = shard_last_seq(handle, symbol)
        release.touch()

        def woken_and_refused() -> bool:
            # SIGCONT on every look: waking a running process is harmless, and in full runs a
            # stop did not always hold as planned (matching/faults.py). Both of its threads
            # wake: the keeper may report the loss before the matcher thread's commit has come
            # back refused, so wait for both lines, not the first.
            os.killpg(frozen.process.pid, signal.SIGCONT)
            return all(line in frozen.log_path.read_bytes()
                       for line in (b"shard lost", b"commit cancelled"))

        _wait_for(woken_and_refused, 30, "the woken holder's commit is refused and it drops the shard")
        lines = [json.loads(line) for line in frozen.log_path.read_text().splitlines()
                 if line.startswith("{")]
        refused = [line for line in lines if line["msg"].startswith("commit cancelled")]
        assert refused and refused[0]["reasons"][-1] == "ConditionalCheckFailed", refused
        holder, epoch = _holders(handle)[symbol]
        assert (holder, epoch % TERM_EPOCHS) == ("matcher-2", 2)  # the second take of the term
        assert shard_last_seq(handle, symbol) == seq_before  # nothing of its batch landed
        assert_ledger(handle, symbol)
        _wait_for(lambda: _queues_empty(handle), 30, "every message deleted")
    finally:
        handle.stop()
