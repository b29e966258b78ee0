"""Request-wide middleware: correlation ids, body size limit, and the JSON error body for Django's
own error paths (404 from the URL resolver, 405 from non-DRF views, 413, 500)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tulip import logs, metrics
from tulip.context import new_correlation_id, set_correlation_id
from tulip.errors import error_response

log = logging.getLogger("tulip.http")

# Paths that render HTML for people (the admin console, static files, the trading page) keep
# Django's own pages; everything else is API and speaks the JSON error body.
HTML_PREFIXES = ("/admin", "/static", "/api/docs")
Handler = Callable[[HttpRequest], HttpResponse]


def is_api_path(path: str) -> bool:
    return path != "/" and not path.startswith(HTML_PREFIXES)


class CorrelationIdMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        correlation_id = new_correlation_id(request.headers.get("X-Request-Id"))
        set_correlation_id(correlation_id)
        logs.clear()
        logs.bind(requestId=correlation_id, region=settings.TULIP.aws_region)
        response = self.get_response(request)
        response["X-Correlation-Id"] = correlation_id
        elapsed = time.perf_counter() - started
        metrics.observe_request(request.method or "", response.status_code, elapsed)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "durationMs": round(elapsed * 1000, 2),
            },
        )
        return response


class BodySizeLimitMiddleware:
    """413 before any parsing: the declared length first, then the received body itself (a chunked
    upload declares none)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path) and request.method in ("POST", "PUT", "PATCH"):
            limit = settings.API_MAX_BODY_BYTES
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return error_response(400, "Content-Length is not a number.")
            if declared > limit or len(request.body) > limit:
                return error_response(413, details={"maxBytes": limit})
        return self.get_response(request)


class JsonErrorMiddleware:
    """Any API error response that is not JSON (Django's own 404/405/400 pages) is replaced by the
    contract body. JSON responses are ours already (the exception handler, or a view's deliberate
    body such as /readyz's 503) and pass through."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not is_api_path(request.path):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        shaped = error_response(response.status_code)
        if response.has_header("Allow"):
            shaped["Allow"] = response["Allow"]
        return shaped
