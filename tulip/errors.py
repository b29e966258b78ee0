"""The one error shape of docs/api.md ("Errors"), and the one DRF exception handler that produces it.

Every error leaves the service as
  {"error": {"code", "message", "details", "correlationId"}}
with a fixed code per status. Exception text is logged, never returned.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from tulip.context import current_correlation_id
from tulip.transient import is_transient

log = logging.getLogger("tulip.errors")

# Codes are the closed set of docs/api.md; statuses the contract does not name (405, 415, 429) map
# onto the nearest documented code so clients can switch on `code` alone.
CODE_BY_STATUS = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "validation_error",
    409: "idempotency_conflict",
    413: "payload_too_large",
    415: "validation_error",
    429: "unavailable",
    503: "unavailable",
}
DEFAULT_MESSAGE = {
    400: "The request is not valid.",
    401: "Authentication is required: send a valid Cognito access token as a Bearer token.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "The request body is too large.",
    415: "Unsupported media type: send application/json.",
    500: "Internal error. Quote the correlation id when reporting it.",
    503: "The service is temporarily unavailable; retry with the same idempotency key.",
}
RETRY_AFTER_S = 1  # the Retry-After of every 503: a dependency's throttle or a failover clears in seconds


class ApiError(Exception):
    """A deliberate, documented error. Services raise these; the handler renders them."""

    status = 400
    code = "validation_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(ApiError):
    status, code = 400, "validation_error"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class NotOpen(ApiError):
    status, code = 404, "not_open"


class UnsupportedMediaType(ApiError):
    status, code = 415, "validation_error"


class IdempotencyConflict(ApiError):
    status, code = 409, "idempotency_conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


def error_body(status: int, message: str | None = None, details: dict[str, Any] | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code or CODE_BY_STATUS.get(status, "internal" if status >= 500 else "error"),
            "message": message or DEFAULT_MESSAGE.get(status, "Error."),
            "details": details or {},
            "correlationId": current_correlation_id(),
        }
    }


def render_json(body: Any) -> bytes:
    """JSON exactly as DRF's JSONRenderer writes it (compact, UTF-8): the one formatting of every
    body, so an error from Django's own paths, the middleware or a plain view is byte-for-byte
    shaped like one from a DRF view."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def json_response(body: Any, status: int = 200) -> HttpResponse:
    """A JSON answer from outside DRF (plain views, middleware), rendered as DRF renders."""
    return HttpResponse(render_json(body), status=status, content_type="application/json")


def error_response(status: int, message: str | None = None, details: dict[str, Any] | None = None,
                   code: str | None = None) -> HttpResponse:
    return json_response(error_body(status, message, details, code), status=status)


def _validation_details(detail: Any) -> dict[str, Any]:
    """DRF's nested ErrorDetail structure -> {field: [messages]} of plain strings."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    return {"nonField": _flatten(detail)}


def _flatten(value: Any) -> list[str]:
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_flatten(item))
        return out
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _flatten(v)]
    return [str(value)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the contract body; 500s are logged."""
    status, message, details, code = _classify(exc)
    response = Response(error_body(status, message, details, code), status=status)
    if isinstance(exc, drf.MethodNotAllowed):
        view = context.get("view")
        if view is not None:
            response["Allow"] = ", ".join(view.allowed_methods)
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Bearer realm="tulip"'
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _classify(exc: Exception) -> tuple[int, str | None, dict[str, Any] | None, str | None]:
    if isinstance(exc, ApiError):
        return exc.status, exc.message, exc.details, exc.code
    if isinstance(exc, drf.ValidationError):
        return 400, "The request is not valid.", _validation_details(exc.detail), None
    if isinstance(exc, drf.ParseError):
        return 400, "The body is not valid JSON.", None, None
    if isinstance(exc, drf.UnsupportedMediaType):
        return 415, None, None, None
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return 401, _safe_detail(exc) or DEFAULT_MESSAGE[401], None, None
    if isinstance(exc, drf.PermissionDenied | PermissionDenied):
        return 403, _safe_detail(exc) if isinstance(exc, drf.PermissionDenied) else None, None, None
    if isinstance(exc, drf.NotFound | Http404):
        return 404, None, None, None
    if isinstance(exc, drf.MethodNotAllowed):
        return 405, None, None, None
    if isinstance(exc, RequestDataTooBig):
        return 413, None, None, None
    if isinstance(exc, SuspiciousOperation):
        return 400, None, None, None
    if isinstance(exc, drf.Throttled):
        return 429, "Too many requests.", None, None
    if isinstance(exc, drf.APIException) and exc.status_code < 500:
        return exc.status_code, None, None, None
    if is_transient(exc):
        # Logged without the trace: a throttle or a timeout is weather, not a defect.
        log.warning("transient dependency failure: %s", type(exc).__name__)
        return 503, None, None, None
    log.error("unhandled error in API view", exc_info=exc)
    return 500, None, None, "internal"


def _safe_detail(exc: drf.APIException) -> str | None:
    """DRF details on auth/permission errors are our own fixed messages, safe to show."""
    detail = exc.detail
    return str(detail) if isinstance(detail, str) else None


# Django's own error paths (outside DRF views): urls.py points handler404/500 here.
def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(404)


def handler500(request: HttpRequest) -> HttpResponse:
    return error_response(500, code="internal")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(403)
