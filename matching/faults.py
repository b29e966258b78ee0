"""Deterministic crash points for crash-recovery tests (TULIP_MATCHER_CRASH), e.g.
`after_commit:5` = die like kill -9 after the 5th committed batch, before its messages are deleted;
`before_commit:3` = die with the 3rd batch applied to the engine but not committed.
Refused in production (tulip.bootstrap checks the environment)."""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("matching.faults")
POINTS = ("before_commit", "after_commit")


class CrashPlan:
    def __init__(self, spec: str) -> None:
        self.targets: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            point, _, count = part.partition(":")
            if point not in POINTS or not count.isdigit() or int(count) < 1:
                raise ValueError(f"TULIP_MATCHER_CRASH: bad entry {part!r}")
            self.targets[point] = int(count)
        self.counts = dict.fromkeys(POINTS, 0)
        self.lock = threading.Lock()

    def reached(self, point: str) -> None:
        with self.lock:
            self.counts[point] += 1
            if self.targets.get(point) == self.counts[point]:
                log.warning("injected crash", extra={"point": point, "batch": self.counts[point]})
                logging.shutdown()
                os._exit(137)  # like kill -9: no cleanup, no deletes, no publish
