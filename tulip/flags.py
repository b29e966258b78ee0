"""Feature-flag middleware: injectLatencyMs delays every request (test-only; refused in production
by config validation). denyWrites is enforced by the write services themselves."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class InjectLatencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        delay_ms = settings.TULIP.feature_flags.inject_latency_ms
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return self.get_response(request)
