"""Shared fixtures. Integration and e2e tests run against the real local stack (the same launcher
`make run` uses): a moto server process, Redis, the ASGI server and Celery worker subprocesses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import StackHandle, start_stack
from tulip.aws import LOCAL_CREDENTIALS_ENV

# Tests count spans (tulip/tracing.py samples under load otherwise); the stacks inherit this.
os.environ.setdefault("OTEL_TRACES_SAMPLER", "always_on")

# One symbol per matcher test keeps their ledgers apart on the shared stack.
SESSION_SYMBOLS = "TULIP,TULIPB,MA,MB,MC,MD,ME,MF,MG"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    """One full stack per test process (per xdist worker), shared by the tests that only read or
    write their own data. Tests that break the stack on purpose use `private_stack`."""
    handle = start_stack(tmp_path_factory.mktemp("stack"), symbols=SESSION_SYMBOLS)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[StackHandle]:
    """A stack of its own (no worker) for tests that kill or corrupt components."""
    handle = start_stack(tmp_path / "stack", with_worker=False)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session", autouse=True)
def _no_real_aws() -> None:
    # Nothing in the suite may reach real AWS, whatever the developer's shell holds.
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(LOCAL_CREDENTIALS_ENV)
