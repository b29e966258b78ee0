from __future__ import annotations

import pytest

from matching.engine import BookEngine


@pytest.fixture
def book() -> BookEngine:
    return BookEngine("TULIP", depth=5)
