"""Feature flags at runtime: their one owner (docs/api.md, "Feature flags").

The environment's FEATURE_FLAGS (parsed by tulip.config) overlaid by the row ops edit in the admin
(tulip.models.FeatureFlagOverride), so a change takes effect in every process — the ASGI server,
workers — within about a second, without a restart. Order entry reads `current_flags` for
denyWrites and forceLeader; `InjectLatencyMiddleware` applies injectLatencyMs (test-only: refused
in production by config validation and ignored there at runtime).

Each process caches the merged flags for <= 1 s (one indexed read per second per process, not per
request). When the database is unreachable the environment's flags apply: a broken ops database
must not take order entry down, and the environment is the deploy's stated intent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import replace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tulip.config import AWS_REGION_RE, MAX_INJECTED_LATENCY_MS, Config, FeatureFlags
from tulip.middleware import PassThroughMiddleware
from tulip.ttl_cache import TtlCache

log = logging.getLogger("tulip.flags")

CACHE_TTL_S = 1.0
_cache: TtlCache[int, FeatureFlags] = TtlCache(CACHE_TTL_S)


def overlay(base: FeatureFlags, inject_latency_ms: int | None, force_leader: str | None,
            force_leader_override: bool, deny_writes: bool | None,
            environment: str, accept_when_leader_down: bool | None = None) -> FeatureFlags:
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
    if accept_when_leader_down is not None:
        flags = replace(flags, accept_when_leader_down=accept_when_leader_down)
    return flags


def _read(cfg: Config) -> FeatureFlags:
    from tulip.models import FeatureFlagOverride  # models load after the app registry

    row = FeatureFlagOverride.objects.filter(pk=1).first()
    if row is None:
        return cfg.feature_flags
    return overlay(cfg.feature_flags, row.inject_latency_ms, row.force_leader,
                   bool(row.force_leader_override), row.deny_writes, cfg.environment,
                   row.accept_when_leader_down)


def cached_flags(cfg: Config) -> FeatureFlags | None:
    """The cached flags while fresh, else None; never touches the database (safe on an event
    loop, where the ORM must not run)."""
    return _cache.peek(id(cfg))


def current_flags(cfg: Config) -> FeatureFlags:
    return _cache.get(id(cfg), lambda: _read_or_environment(cfg))


def _read_or_environment(cfg: Config) -> FeatureFlags:
    try:
        return _read(cfg)
    except Exception:  # any database failure: fall back to the environment, loudly but rarely
        log.warning("feature-flag overrides unreadable; using FEATURE_FLAGS from the environment")
        return cfg.feature_flags


def invalidate() -> None:
    """Drop this process's cache (the admin calls it after a save, for its own process)."""
    _cache.clear()


class InjectLatencyMiddleware(PassThroughMiddleware):
    """Delays every request by injectLatencyMs. Sync or async as the chain it sits in (see
    tulip.middleware): in async mode the delay is an ``asyncio.sleep`` and the flags come from the
    per-process cache, the database being read on a thread only when the cache has expired."""

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        cfg = settings.TULIP
        if cfg.environment != "production":
            delay_ms = current_flags(cfg).inject_latency_ms
            if delay_ms:
                time.sleep(delay_ms / 1000)
        response: HttpResponse = self.get_response(request)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        cfg = settings.TULIP
        if cfg.environment != "production":
            flags = cached_flags(cfg) or await sync_to_async(current_flags)(cfg)
            if flags.inject_latency_ms:
                await asyncio.sleep(flags.inject_latency_ms / 1000)
        response: HttpResponse = await self.get_response(request)
        return response
