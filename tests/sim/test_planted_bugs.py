"""Each guard, switched off alone (tests/sim/planted.py), is caught within the CI seeds.

"Caught" is strict: a seed on which the planted bug produces a violation and the same seed
without it produces none. The `filledQty` condition guards a stale book, which the matcher can
only have when its rebuild reads an index lagging further back than the rebuild reads the table
again (matching.storage.REBUILD_RECHECK_EVENTS), so it is hunted with the `stale_index` profile
(tests/sim/run.py); the others with the default one.

The hunt tries first the seed that caught the bug when docs/reliability.md's table was last read
off (`LAST_CAUGHT_BY`), then every CI seed in order, as Hypothesis replays its saved failing
examples before new ones: the `filled_qty` hunt from seed 0 spends minutes on seeds whose
stale_index runs fail with and without the bug, and a change to the simulation's trajectories
only costs time (the scan still finds a seed), never the check.
"""

from __future__ import annotations

import pytest

from tests.sim.conftest import CI_SEEDS
from tests.sim.planted import BUGS
from tests.sim.run import replay_command, run_seed

PROFILE = {"fence": "default", "filled_qty": "stale_index", "idempotency": "default",
           "redelivery": "default"}
LAST_CAUGHT_BY = {"fence": 53, "filled_qty": 110, "idempotency": 0, "redelivery": 0}


def _hunt_order(bug: str) -> list[int]:
    first = LAST_CAUGHT_BY[bug]
    assert 0 <= first < CI_SEEDS, f"{bug}'s recorded seed {first} is outside the CI seeds"
    return [first, *(seed for seed in range(CI_SEEDS) if seed != first)]


@pytest.mark.parametrize("bug", BUGS)
def test_planted_bug_is_caught(bug: str, capsys: pytest.CaptureFixture[str]) -> None:
    profile = PROFILE[bug]
    for seed in _hunt_order(bug):
        planted = run_seed(seed, bug, profile=profile)
        if planted.ok or not run_seed(seed, profile=profile).ok:
            continue
        with capsys.disabled():
            moved = "" if seed == LAST_CAUGHT_BY[bug] else (
                f" (not the recorded seed {LAST_CAUGHT_BY[bug]}: update LAST_CAUGHT_BY and "
                f"docs/reliability.md)")
            print(f"\nplanted bug {bug!r} caught by seed {seed} ({profile}){moved}: "
                  f"{planted.violations[0]}\n  replay: {replay_command(seed, bug, profile)}")
        return
    pytest.fail(f"planted bug {bug!r} went unnoticed in {CI_SEEDS} seeds ({profile})")
