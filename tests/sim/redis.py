"""A Redis that can vanish: the book snapshots the matcher publishes after each commit.

While it is down every command raises ConnectionError, as redis-py does; the pipeline must not
care (docs/rules.md: Redis is an optimisation, publication is best effort)."""

from __future__ import annotations

from typing import Any


class SimRedis:
    def __init__(self) -> None:
        self.available = True
        self.data: dict[str, Any] = {}
        self.refused = 0  # commands refused while it was down

    def set(self, key: str, value: Any) -> None:
        if not self.available:
            self.refused += 1
            raise ConnectionError("Error 111 connecting to redis (simulated outage)")
        self.data[key] = value

    def vanish(self) -> None:
        """The server is gone (and with it what it held: it had no persistence)."""
        self.available = False
        self.data.clear()

    def come_back(self) -> None:
        self.available = True
