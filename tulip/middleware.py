"""Request-wide middleware: correlation ids, body size limit, the JSON error body for Django's
own error paths (404 from the URL resolver, 405 from non-DRF views, 413, 500), and the
cross-origin rule that lets the trading page of one region call another region's API.

Each one runs in the mode of the handler it wraps (``PassThroughMiddleware``). Under ASGI the
chain below them is async, and a sync-only middleware would make Django hop from the event loop to
a thread and back around it on every request (measured: most of a single client's accept latency
went to those hops, see docs/benchmarks.md). Django's own middleware is used through the
subclasses of tulip/django_middleware.py, which avoid the same hops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tulip import logs, metrics
from tulip.context import new_correlation_id, set_correlation_id
from tulip.errors import error_response

log = logging.getLogger("tulip.http")

# Paths that render HTML for people (the admin console, static files, the trading page) keep
# Django's own pages; everything else is API and speaks the JSON error body.
HTML_PREFIXES = ("/admin", "/static", "/api/docs", "/api/redoc")
def is_api_path(path: str) -> bool:
    return path != "/" and not path.startswith(HTML_PREFIXES)


class PassThroughMiddleware:
    """A middleware whose own work never blocks: ``before`` may answer early, ``after`` may
    replace the response. It runs sync or async, as the handler it wraps does, so Django adds no
    sync/async adapter around it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def before(self, request: HttpRequest) -> HttpResponse | None:
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        early = self.before(request)
        return self.after(request, early if early is not None else self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        early = self.before(request)
        return self.after(request, early if early is not None else await self.get_response(request))


class CorrelationIdMiddleware(PassThroughMiddleware):
    def before(self, request: HttpRequest) -> HttpResponse | None:
        # The two attributes are this middleware's own, read back in after(): HttpRequest's type
        # (django-stubs) does not declare them, hence the ignores.
        request.tulip_started = time.perf_counter()  # type: ignore[attr-defined]
        correlation_id = new_correlation_id(request.headers.get("X-Request-Id"))
        request.tulip_correlation_id = correlation_id  # type: ignore[attr-defined]
        set_correlation_id(correlation_id)
        logs.clear()
        logs.bind(requestId=correlation_id, region=settings.TULIP.aws_region)
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response["X-Correlation-Id"] = request.tulip_correlation_id  # type: ignore[attr-defined]
        # Which region served it (docs/api.md): a client pinned to a region can tell a forwarded
        # answer (the leader's header, kept) from its own region's.
        if "X-Tulip-Region" not in response:
            response["X-Tulip-Region"] = settings.TULIP.aws_region
        elapsed = time.perf_counter() - request.tulip_started  # type: ignore[attr-defined]
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


class BodySizeLimitMiddleware(PassThroughMiddleware):
    """413 before any parsing: the declared length first, then the received body itself (a chunked
    upload declares none). The ASGI handler has read the body before the request exists, so
    ``request.body`` does not block here."""

    def before(self, request: HttpRequest) -> HttpResponse | None:
        if is_api_path(request.path) and request.method in ("POST", "PUT", "PATCH"):
            limit = settings.API_MAX_BODY_BYTES
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return error_response(400, "Content-Length is not a number.")
            if declared > limit or len(request.body) > limit:
                return error_response(413, details={"maxBytes": limit})
        return None


class JsonErrorMiddleware(PassThroughMiddleware):
    """Any API error response that is not JSON (Django's own 404/405/400 pages) is replaced by the
    contract body. JSON responses are ours already (the exception handler, or a view's deliberate
    body such as /readyz's 503) and pass through."""

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code < 400 or not is_api_path(request.path):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        shaped = error_response(response.status_code)
        if response.has_header("Allow"):
            shaped["Allow"] = response["Allow"]
        return shaped


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class RegionCorsMiddleware(PassThroughMiddleware):
    """The trading page served by one region re-pins to another region's API when its own is
    unhealthy (docs/api.md, "Regions"): that is a cross-origin call, allowed here for exactly the
    deployment's region origins (TULIP_URL_<REGION>) and nobody else. Preflights are answered
    before anything else runs; no cookies are involved (the API takes bearer tokens only)."""

    ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
    EXPOSE_HEADERS = "X-Correlation-Id, X-Tulip-Region"
    MAX_AGE_S = "600"

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.origins = frozenset(filter(None, (_origin(u) for u in settings.TULIP.region_urls.values())))

    def _allowed(self, request: HttpRequest) -> str | None:
        origin = request.headers.get("Origin")
        return origin if origin and origin in self.origins and is_api_path(request.path) else None

    def before(self, request: HttpRequest) -> HttpResponse | None:
        origin = self._allowed(request)
        if origin and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = self.ALLOW_HEADERS
            response["Access-Control-Max-Age"] = self.MAX_AGE_S
            return response
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        origin = self._allowed(request)
        if origin:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = self.EXPOSE_HEADERS
            response["Vary"] = "Origin"
        return response
