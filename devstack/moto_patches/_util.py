"""Small helpers shared by the fixes."""

from __future__ import annotations

import os
from typing import Any


def replace(owner: Any, name: str, value: Any) -> None:
    """Monkeypatch ``owner.name`` (moto is typed, so plain assignment of a method upsets mypy)."""
    setattr(owner, name, value)


def env_number(name: str, default: float) -> float:
    """A numeric setting from the server's environment (tests shrink bounds and windows)."""
    raw = os.environ.get(name)
    return float(raw) if raw else default
