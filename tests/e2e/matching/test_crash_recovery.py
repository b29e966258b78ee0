"""kill -9 of the matcher at chosen points and at a random moment, then a restart: zero double
fills, zero lost orders, gap-free seq, and the final book equal to an uninterrupted reference run.
(The 2,000-order version runs in `make test-chaos`.)"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support.crash_run import run_with_crash
from tests.support.stack import StackHandle

ORDERS = 150


@pytest.mark.parametrize("crash", ["after_commit:4", "before_commit:4"],
                         ids=["after-commit-before-delete", "mid-batch"])
def test_crash_point_then_restart(tmp_path: Path, crash: str) -> None:
    run_with_crash(tmp_path, ORDERS, seed=7, crash=crash)


def test_random_kill_then_restart(tmp_path: Path) -> None:
    when = random.Random(11).randrange(20, ORDERS - 20)

    def kill(handle: StackHandle, index: int) -> None:
        if index == when:
            handle.stack.kill("matcher-1")

    run_with_crash(tmp_path, ORDERS, seed=11, crash="", kill_during=kill)
