from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import StackHandle, start_stack


@pytest.fixture(scope="module")
def entry_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    """Order entry without a matcher or sweeper: whatever reaches the queue stays there for the
    test to count."""
    handle = start_stack(Path(tmp_path_factory.mktemp("entry")), with_worker=False,
                         symbols="TULIP,TULIPB")
    try:
        yield handle
    finally:
        handle.stop()
