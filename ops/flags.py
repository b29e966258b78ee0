"""Feature flags at runtime (spec §16): the environment's FEATURE_FLAGS overlaid by the row ops
edit in the admin (FeatureFlagOverride), so a change takes effect in every process — the ASGI
server, workers — within about a second, without a restart.

Each process caches the merged flags for ≤ 1 s (one indexed read per second per process, not per
request). When the database is unreachable the environment's flags apply: a broken ops database
must not take order entry down, and the environment is the deploy's stated intent.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from tulip.config import AWS_REGION_RE, MAX_INJECTED_LATENCY_MS, Config, FeatureFlags

log = logging.getLogger("ops.flags")

CACHE_TTL_S = 1.0
_lock = threading.Lock()
_cache: dict[int, tuple[float, FeatureFlags]] = {}


def overlay(base: FeatureFlags, inject_latency_ms: int | None, force_leader: str | None,
            force_leader_override: bool, deny_writes: bool | None,
            environment: str) -> FeatureFlags:
    """Pure: apply the admin's overrides (None = keep the environment's value)."""
    flags = base
    if inject_latency_ms is not None and environment != "production":
        # Test-only flag: production ignores an override exactly as config refuses it at start.
        flags = replace(flags, inject_latency_ms=max(0, min(MAX_INJECTED_LATENCY_MS,
                                                            inject_latency_ms)))
    if force_leader_override:
        leader = (force_leader or "").strip() or None
        if leader is None or AWS_REGION_RE.match(leader):
            flags = replace(flags, force_leader=leader)
    if deny_writes is not None:
        flags = replace(flags, deny_writes=deny_writes)
    return flags


def _read(cfg: Config) -> FeatureFlags:
    from ops.models import FeatureFlagOverride

    row = FeatureFlagOverride.objects.filter(pk=1).first()
    if row is None:
        return cfg.feature_flags
    return overlay(cfg.feature_flags, row.inject_latency_ms, row.force_leader,
                   bool(row.force_leader_override), row.deny_writes, cfg.environment)


def cached_flags(cfg: Config) -> FeatureFlags | None:
    """The cached flags while fresh, else None; never touches the database (safe on an event
    loop, where the ORM must not run)."""
    with _lock:
        cached = _cache.get(id(cfg))
    if cached is not None and time.monotonic() - cached[0] < CACHE_TTL_S:
        return cached[1]
    return None


def current_flags(cfg: Config) -> FeatureFlags:
    now = time.monotonic()
    cached = cached_flags(cfg)
    if cached is not None:
        return cached
    try:
        flags = _read(cfg)
    except Exception:  # any database failure: fall back to the environment, loudly but rarely
        log.warning("feature-flag overrides unreadable; using FEATURE_FLAGS from the environment")
        flags = cfg.feature_flags
    with _lock:
        _cache[id(cfg)] = (now, flags)
    return flags


def invalidate() -> None:
    """Drop this process's cache (the admin calls it after a save, for its own process)."""
    with _lock:
        _cache.clear()
