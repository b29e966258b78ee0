"""One stack for the client SDK's integration tests (no matcher: tests commit events and publish
them through the real ChannelsPublisher into the stack's Redis, exactly as the matcher would)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import StackHandle, start_stack


@pytest.fixture(scope="package")
def sdk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    handle = start_stack(Path(tmp_path_factory.mktemp("sdk")), with_worker=False,
                         symbols="TULIP,SDA,SDB,SDC", extra_env={"WS_HEARTBEAT_S": "0.5"})
    try:
        yield handle
    finally:
        handle.stop()
