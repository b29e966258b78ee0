"""Runs the matcher inside a dedicated Celery worker (`celery -A tulip worker -Q matching-control
-c 1 --matcher`): a bootstep owns the receive loop, so Celery supervises the process (signals,
logging, warm shutdown) while messages stay raw SQS bodies."""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps

log = logging.getLogger("matching.bootstep")


class MatcherStep(bootsteps.StartStopStep):  # type: ignore[misc]
    def __init__(self, parent: Any, matcher: bool = False, **options: Any) -> None:
        super().__init__(parent, **options)
        self.enabled = bool(matcher)
        self.loop: Any = None

    def start(self, parent: Any) -> None:
        from tulip.bootstrap import build_matcher_loop

        self.loop = build_matcher_loop()
        self.loop.start()
        log.info("matcher loop started", extra={"symbols": list(self.loop.matchers)})

    def stop(self, parent: Any) -> None:
        if self.loop is not None:
            self.loop.stop()
            log.info("matcher loop stopped after its in-flight batch")
