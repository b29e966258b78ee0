"""Which region endpoint to talk to: re-pins to the first one whose `/readyz` answers 200."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx

log = logging.getLogger(__name__)


class RegionPicker:
    """Holds the region endpoints in preference order and the one currently pinned."""

    def __init__(self, endpoints: Sequence[str], probe_timeout_s: float = 3.0) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint is required")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.current = self.endpoints[0]
        self.probe_timeout_s = probe_timeout_s
        self.repins = 0

    def healthy(self, endpoint: str) -> bool:
        try:
            return httpx.get(f"{endpoint}/readyz", timeout=self.probe_timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def repin(self) -> str:
        """Pin to the first healthy endpoint (preference order); keep the current one if none is."""
        for endpoint in self.endpoints:
            if self.healthy(endpoint):
                if endpoint != self.current:
                    log.info("re-pinned region", extra={"from": self.current, "to": endpoint})
                    self.repins += 1
                self.current = endpoint
                break
        return self.current

    async def arepin(self) -> str:
        return await asyncio.to_thread(self.repin)
