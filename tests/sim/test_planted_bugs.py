"""Each guard, switched off alone (tests/sim/planted.py), is caught within the CI seeds.

"Caught" is strict: a seed on which the planted bug produces a violation and the same seed
without it produces none. The `filledQty` condition guards a stale book, which the matcher can
only have when its rebuild reads an index lagging further back than the rebuild reads the table
again (matching.storage.REBUILD_RECHECK_EVENTS), so it is hunted with the `stale_index` profile
(tests/sim/run.py); the others with the default one.
"""

from __future__ import annotations

import pytest

from tests.sim.conftest import CI_SEEDS
from tests.sim.planted import BUGS
from tests.sim.run import replay_command, run_seed

PROFILE = {"fence": "default", "filled_qty": "stale_index", "idempotency": "default",
           "redelivery": "default"}


@pytest.mark.parametrize("bug", BUGS)
def test_planted_bug_is_caught(bug: str, capsys: pytest.CaptureFixture[str]) -> None:
    profile = PROFILE[bug]
    for seed in range(CI_SEEDS):
        planted = run_seed(seed, bug, profile=profile)
        if planted.ok or not run_seed(seed, profile=profile).ok:
            continue
        with capsys.disabled():
            print(f"\nplanted bug {bug!r} caught by seed {seed} ({profile}): "
                  f"{planted.violations[0]}\n  replay: {replay_command(seed, bug, profile)}")
        return
    pytest.fail(f"planted bug {bug!r} went unnoticed in {CI_SEEDS} seeds ({profile})")
