"""Structured JSON logs (docs/rules.md): every line carries the request context known at the time.

Context lives in structlog's contextvars, so it follows a request through sync and async code;
the stdlib formatter below renders any logger's record (Django's, Celery's, ours) as one JSON line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import structlog

CONTEXT_KEYS = ("requestId", "clientId", "orderId", "region", "seq", "symbol")
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def bind(**values: Any) -> None:
    """Attach values to every log line of the current request/task."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear() -> None:
    structlog.contextvars.clear_contextvars()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(structlog.contextvars.get_contextvars())
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            # Server-side only: logs may hold the traceback, responses never do.
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
