"""One stack for the realtime integration tests (no matcher: tests publish through the real
ChannelsPublisher into the stack's Redis, exactly as the matcher would)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import StackHandle, start_stack

RT_ENV = {"WS_HEARTBEAT_S": "0.5", "WS_SEND_QUEUE_MAX": "64"}


@pytest.fixture(scope="package")
def rt_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    handle = start_stack(Path(tmp_path_factory.mktemp("rt")), with_worker=False,
                         symbols="TULIP,TULIPB,RTA,RTB,RTC,RTD,RTE,RTF,RTG,RTH,RTI,RTJ,RTK,RTL,RTM",
                         extra_env=RT_ENV)
    try:
        yield handle
    finally:
        handle.stop()
