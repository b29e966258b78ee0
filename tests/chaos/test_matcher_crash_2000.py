"""The full-size crash run of issue 7: 2,000 orders, kill -9 at each crash point and at random."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support.crash_run import run_with_crash
from tests.support.stack import StackHandle

ORDERS = 2_000
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1800)]


@pytest.mark.parametrize("crash", ["after_commit:25", "before_commit:40"])
def test_crash_point_2000(tmp_path: Path, crash: str) -> None:
    run_with_crash(tmp_path, ORDERS, seed=2000, crash=crash)


def test_random_kills_2000(tmp_path: Path) -> None:
    rng = random.Random(2001)
    moments = set(rng.sample(range(100, ORDERS - 100), 3))

    def kill(handle: StackHandle, index: int) -> None:
        if index in moments:
            handle.stack.kill("matcher-1")
            handle.stack.start_matcher()

    run_with_crash(tmp_path, ORDERS, seed=2001, crash="", kill_during=kill)
