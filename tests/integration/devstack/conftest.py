"""Fixtures: real moto server processes, one patched and one unpatched (stock moto 5.2.5).

Every test that takes ``server`` runs twice. On ``unpatched`` it asserts that the moto defect is
observed (documenting it, and failing loudly if a moto upgrade fixed it); on ``patched`` it asserts
the fixed behaviour. No Django: run with ``-p no:django``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .support import MotoServer, start_moto

# Small bounds so the bounds are observable in tests (the defaults are AWS's: 15 min, 24 h).
TEST_SERVER_ENV = {"TULIP_MOTO_STREAM_MAX_ITERATORS": "64"}


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, MotoServer]]:
    started: dict[str, MotoServer] = {}
    try:
        started["unpatched"] = start_moto(False, TEST_SERVER_ENV)
        started["patched"] = start_moto(True, TEST_SERVER_ENV)
        yield started
    finally:
        for srv in started.values():
            srv.stop()


@pytest.fixture(params=["unpatched", "patched"])
def server(request: pytest.FixtureRequest, servers: dict[str, MotoServer]) -> MotoServer:
    return servers[request.param]


@pytest.fixture
def moto_factory() -> Iterator[Callable[..., MotoServer]]:
    """Start an extra server with its own environment (stopped at the end of the test)."""
    started: list[MotoServer] = []

    def factory(patched: bool, extra_env: dict[str, str] | None = None) -> MotoServer:
        srv = start_moto(patched, extra_env)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()
