"""Wall-clock time for records and metrics only (docs/rules.md, clock independence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601 with milliseconds, so stored strings sort by time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso_ago(seconds: float) -> str:
    return iso(datetime.now(UTC) - timedelta(seconds=seconds))


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
