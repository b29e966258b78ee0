"""Runs the matcher inside a dedicated Celery worker (`celery -A tulip worker -Q matching-control
-c 1 --matcher`): a bootstep owns the receive loop, so Celery supervises the process (signals,
logging, warm shutdown) while messages stay raw SQS bodies."""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps

log = logging.getLogger("tulip.matcher_step")


class MatcherStep(bootsteps.StartStopStep):
    def __init__(self, parent: Any, matcher: bool = False, **options: Any) -> None:
        super().__init__(parent, **options)
        self.enabled = bool(matcher)
        self.loop: Any = None

    def start(self, parent: Any) -> None:
        from celery.signals import worker_shutting_down

        from tulip.bootstrap import build_matcher_loop
        from tulip.tracing import setup_tracing

        setup_tracing("matcher")
        self.loop = build_matcher_loop()
        # Stop receiving as soon as the shutdown begins, not after Celery's consumer has closed.
        worker_shutting_down.connect(self._stop_receiving, weak=False)
        self.loop.start()
        log.info("matcher loop started", extra={"holder": self.loop.holder, "shards": self.loop.held})

    def _stop_receiving(self, **_: Any) -> None:
        if self.loop is not None:
            self.loop.stopping.set()

    def stop(self, parent: Any) -> None:
        if self.loop is not None:
            self.loop.stop()
            log.info("matcher loop stopped after its in-flight batch")
