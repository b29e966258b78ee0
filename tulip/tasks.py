"""Platform tasks."""

from __future__ import annotations

import os
import socket

from celery import shared_task


@shared_task(name="tulip.ping")
def ping(token: str) -> dict[str, object]:
    """Round trip through the SQS broker: proves a worker is consuming (used by tests and /readyz
    tooling). Echoes the token with who answered."""
    return {"token": token, "host": socket.gethostname(), "pid": os.getpid()}
