from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ops.ledger_plant import Planter
from tests.support.stack import StackHandle, start_stack


@pytest.fixture(scope="package")
def ops_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    """One stack for the ops integration tests, without the worker: nothing but the test writes
    DynamoDB, and each test plants its own symbol (see ledger_plant.new_symbol)."""
    state: Path = tmp_path_factory.mktemp("ops-stack")
    (state / "prom").mkdir()
    handle = start_stack(state, with_worker=False,
                         extra_env={"PROMETHEUS_MULTIPROC_DIR": str(state / "prom")})
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def planter(ops_stack: StackHandle) -> Planter:
    return Planter(ops_stack)
