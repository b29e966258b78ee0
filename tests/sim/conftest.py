"""Options of the seeded pipeline simulation (docs/reliability.md, "Seeded pipeline simulation").

    --sim-seed N      run only seed N (exactly as in CI; the report says what happened)
    --sim-bug NAME    with a planted bug switched on (tests/sim/planted.py)
    --sim-profile P   default | stale_reads | stale_index (tests/sim/run.py, Scenario)

The same through the environment, for runs that do not start in tests/sim (pytest reads these
options only from a conftest in the paths it was given): TULIP_SIM_SEED, TULIP_SIM_BUG,
TULIP_SIM_PROFILE.
"""

from __future__ import annotations

import os

import pytest

CI_SEEDS = 200  # make test
DEEP_SEEDS = 10_000  # make test-deep
DEEP_CHUNK = 100  # seeds per deep test item, so that xdist can spread them


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sim", "seeded pipeline simulation")
    group.addoption("--sim-seed", type=int, default=None, help="run only this seed")
    group.addoption("--sim-bug", default=None, help="switch on a planted bug")
    group.addoption("--sim-profile", default=None, help="default | stale_reads | stale_index")


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    value = config.getoption(name, default=None)
    return str(value) if value is not None else os.environ.get(env) or None


def chosen_seed(config: pytest.Config) -> int | None:
    seed = _option(config, "--sim-seed", "TULIP_SIM_SEED")
    return None if seed is None else int(seed)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sim_seed" in metafunc.fixturenames:
        seed = chosen_seed(metafunc.config)
        metafunc.parametrize("sim_seed", [seed] if seed is not None else range(CI_SEEDS))
    if "deep_chunk" in metafunc.fixturenames:
        metafunc.parametrize("deep_chunk", range(0, DEEP_SEEDS, DEEP_CHUNK))


@pytest.fixture
def sim_bug(request: pytest.FixtureRequest) -> str | None:
    return _option(request.config, "--sim-bug", "TULIP_SIM_BUG")


@pytest.fixture
def sim_profile(request: pytest.FixtureRequest) -> str:
    return _option(request.config, "--sim-profile", "TULIP_SIM_PROFILE") or "default"
