"""Feature-flag middleware: injectLatencyMs delays every request (test-only; refused in production
by config validation and ignored there at runtime). The value is the runtime one (env overlaid by
the admin's override, ops.flags, cached <= 1 s). denyWrites is enforced by the write services."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class InjectLatencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cfg = settings.TULIP
        if cfg.environment == "production":
            return self.get_response(request)
        from ops.flags import current_flags

        delay_ms = current_flags(cfg).inject_latency_ms
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return self.get_response(request)
