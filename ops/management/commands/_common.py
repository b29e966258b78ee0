"""Argument parsing shared by the ops commands: bad input becomes one CommandError line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.core.management.base import CommandError

from tulip.clock import iso
from tulip.config import SYMBOL_RE

_RELATIVE = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_symbols(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    symbols = tuple(s.strip().upper() for s in raw.split(",") if s.strip())
    for symbol in symbols:
        if not SYMBOL_RE.match(symbol):
            raise CommandError(f"--symbol: {symbol!r} is not a symbol (A-Z, 0-9, 1-12 chars)")
    return symbols


def parse_since(raw: str | None) -> str | None:
    """An ISO-8601 date/time (UTC if no zone) or a relative age: 90s, 15m, 2h, 7d."""
    if not raw:
        return None
    match = _RELATIVE.match(raw.strip())
    if match:
        delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return iso(datetime.now(UTC) - delta)
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--since: {raw!r} is neither ISO-8601 (2026-11-25T22:00:00Z) nor an "
                           "age like 15m / 2h / 7d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment)


def parse_seconds(name: str, raw: float, low: float = 0.0, high: float = 7 * 86400) -> float:
    if not low <= raw <= high:
        raise CommandError(f"{name}: must be between {low:g} and {high:g} seconds, got {raw:g}")
    return raw
