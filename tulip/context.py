"""Per-request correlation id, readable from anywhere in the request (errors, logs, storage)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

# A caller's X-Request-Id is echoed only if it is a sane token; anything else is replaced, so a
# header cannot inject text into logs or responses.
_CALLER_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_correlation_id: ContextVar[str] = ContextVar("correlation_id", default="")


def new_correlation_id(caller_supplied: str | None) -> str:
    if caller_supplied and _CALLER_ID_RE.match(caller_supplied):
        return caller_supplied
    return uuid.uuid4().hex


def set_correlation_id(value: str) -> None:
    _correlation_id.set(value)


def current_correlation_id() -> str:
    value = _correlation_id.get()
    if not value:
        value = uuid.uuid4().hex
        _correlation_id.set(value)
    return value
