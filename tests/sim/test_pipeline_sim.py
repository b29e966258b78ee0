"""The seeded whole-pipeline simulation (docs/reliability.md, "Seeded pipeline simulation"): the
real order entry, matcher, lease keeper and storage against simulated DynamoDB, SQS and Redis,
under the faults each seed draws, checked after every step and at the end (tests/sim/checks.py).

200 seeds here (`make test`), 10,000 in `make test-deep`. A failing seed prints its report and
the command that replays it exactly (`--sim-seed N`, or TULIP_SIM_SEED=N).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sim.conftest import DEEP_CHUNK
from tests.sim.run import run_seed

REPO = Path(__file__).resolve().parents[2]


def test_seed(sim_seed: int, sim_bug: str | None, sim_profile: str) -> None:
    result = run_seed(sim_seed, sim_bug, profile=sim_profile)
    assert result.ok, result.report()


@pytest.mark.deep
def test_deep_seeds(deep_chunk: int) -> None:
    failed = [r for r in (run_seed(seed) for seed in range(deep_chunk, deep_chunk + DEEP_CHUNK))
              if not r.ok]
    assert not failed, "\n".join(r.report() for r in failed)


def test_a_seed_replays_exactly() -> None:
    first, second = run_seed(11), run_seed(11)
    assert first.digest == second.digest
    assert first.injected == second.injected
    assert run_seed(12).digest != first.digest


def test_a_replay_does_not_depend_on_the_process() -> None:
    """Another interpreter with another string-hash seed makes the same history."""
    code = "from tests.sim.run import run_seed; print(run_seed(11).digest)"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TULIP_ENV": "test",
           "DJANGO_SETTINGS_MODULE": "tulip.settings"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == run_seed(11).digest
