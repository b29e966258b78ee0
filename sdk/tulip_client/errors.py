"""What the SDK raises."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A non-retryable HTTP answer (or retries exhausted); carries the server's error body
    `{"error": {"code", "message", ...}}`. `status` is 0 when no answer came at all."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', body)}")
        self.status = status
        self.body = body
        self.code = str(error.get("code", ""))


class StreamFatal(Exception):
    """The stream stopped for good: retrying cannot help (the server rejected the token, 4401)."""
