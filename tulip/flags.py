"""Feature-flag middleware: injectLatencyMs delays every request (test-only; refused in production
by config validation and ignored there at runtime). The value is the runtime one (env overlaid by
the admin's override, ops.flags, cached <= 1 s). denyWrites is enforced by the write services.

Sync or async as the chain it sits in (see tulip.middleware): in async mode the delay is an
``asyncio.sleep`` and the flags come from the per-process cache, the database being read on a
thread only when the cache has expired (once a second at most)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse


class InjectLatencyMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        cfg = settings.TULIP
        if cfg.environment != "production":
            from ops.flags import current_flags

            delay_ms = current_flags(cfg).inject_latency_ms
            if delay_ms:
                time.sleep(delay_ms / 1000)
        response: HttpResponse = self.get_response(request)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        cfg = settings.TULIP
        if cfg.environment != "production":
            from ops.flags import cached_flags, current_flags

            flags = cached_flags(cfg) or await sync_to_async(current_flags)(cfg)
            if flags.inject_latency_ms:
                await asyncio.sleep(flags.inject_latency_ms / 1000)
        response: HttpResponse = await self.get_response(request)
        return response
