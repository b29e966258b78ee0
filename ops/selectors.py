"""Ops reads for people and probes: who holds which shard, at which epoch, how fresh the lease
is (the admin's region screen and GET /readyz)."""

from __future__ import annotations

import time
from typing import Any

from ops.storage import OpsStorage
from tulip.config import Config


def shard_leases(cfg: Config, now_ms: int | None = None) -> list[dict[str, Any]]:
    """One row per configured symbol, in order. A lease's age is the time since its holder last
    renewed it (its expiry minus the TTL): past the TTL the shard is up for taking."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    ttl_ms = int(cfg.matcher_lease_ttl_s * 1000)
    shards = OpsStorage(cfg).shards(cfg.symbols)
    rows = []
    for symbol in cfg.symbols:
        shard = shards.get(symbol)
        expires = shard.lease_expires_ms if shard is not None and shard.holder else None
        rows.append({
            "symbol": symbol,
            "holder": shard.holder if shard is not None else None,
            "epoch": shard.epoch if shard is not None else 0,
            "lastSeq": shard.last_seq if shard is not None else 0,
            "takenAt": shard.taken_at if shard is not None else None,
            "leaseAgeMs": None if expires is None else max(0, now_ms - (expires - ttl_ms)),
            "leaseExpiresInMs": None if expires is None else expires - now_ms,
        })
    return rows
