"""Which region endpoint to talk to: re-pins by each region's `GET /region` (docs/api.md), to the
healthy leader when there is one (a write goes there without a forward), else to the first
healthy region (reads are served by every region; writes are forwarded)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

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
        self.region: str | None = None  # the pinned region's name, once a probe told it

    def status(self, endpoint: str) -> dict[str, Any] | None:
        """The region's `GET /region` answer when it is healthy, else None."""
        try:
            answer = httpx.get(f"{endpoint}/region", timeout=self.probe_timeout_s)
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        try:
            body: dict[str, Any] = answer.json()
        except ValueError:
            return None
        return body if body.get("healthy") else None

    def healthy(self, endpoint: str) -> bool:
        return self.status(endpoint) is not None

    def repin(self) -> str:
        """Pin to the healthy leader, else the first healthy endpoint (preference order); keep
        the current one if none is healthy."""
        statuses = {endpoint: self.status(endpoint) for endpoint in self.endpoints}
        healthy = [e for e in self.endpoints if statuses[e] is not None]
        leaders = [e for e in healthy if (statuses[e] or {}).get("role") == "leader"]
        chosen = (leaders or healthy or [self.current])[0]
        if chosen != self.current:
            log.info("re-pinned region", extra={"from": self.current, "to": chosen})
            self.repins += 1
        self.current = chosen
        status = statuses.get(chosen)
        if status is not None:
            self.region = str(status.get("region"))
        return self.current

    async def arepin(self) -> str:
        return await asyncio.to_thread(self.repin)
