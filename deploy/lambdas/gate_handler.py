"""Assertion Lambda behind the pipeline's Step Functions (docs/rules.md): returns {"pass": true} or
{"pass": false, "reasons": [...]}. The function's environment carries the same variables as the
services (README, "Configuration"); the package contains the repo's `ops`, `orders`, `tulip` packages."""

from __future__ import annotations

import os
from typing import Any

from ops.gate import DEFAULT_WINDOW_S, evaluate
from tulip.config import ConfigError, load_config


def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        cfg = load_config(os.environ)
    except ConfigError as exc:
        return {"pass": False, "reasons": [str(exc)]}
    window = DEFAULT_WINDOW_S
    if isinstance(event, dict) and isinstance(event.get("windowS"), int):
        window = max(60, min(86_400, event["windowS"]))
    return evaluate(cfg, window)
