"""Deterministic fault points for crash-recovery tests (TULIP_MATCHER_CRASH), e.g.
`after_commit:5` = die like kill -9 after the 5th committed batch, before its messages are deleted;
`before_commit:3` = die with the 3rd batch applied to the engine but not committed;
`before_commit:3:stop` = SIGSTOP this very process there instead (a holder frozen mid-batch, with
its batch computed; the test sends SIGCONT after another process took the shard over).
Refused in production (tulip.bootstrap checks the environment)."""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger("matching.faults")
POINTS = ("before_commit", "after_commit")
ACTIONS = ("crash", "stop")


class CrashPlan:
    def __init__(self, spec: str) -> None:
        self.targets: dict[str, tuple[int, str]] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            point, _, rest = part.partition(":")
            count, _, action = rest.partition(":")
            action = action or "crash"
            if point not in POINTS or not count.isdigit() or int(count) < 1 or (
                    action not in ACTIONS):
                raise ValueError(f"TULIP_MATCHER_CRASH: bad entry {part!r}")
            self.targets[point] = (int(count), action)
        self.counts = dict.fromkeys(POINTS, 0)
        self.lock = threading.Lock()

    def reached(self, point: str) -> None:
        with self.lock:
            self.counts[point] += 1
            count, action = self.targets.get(point, (0, ""))
            if count != self.counts[point]:
                return
            log.warning("injected fault", extra={"point": point, "batch": count,
                                                 "action": action})
            if action == "stop":
                os.kill(os.getpid(), signal.SIGSTOP)  # resumes here on SIGCONT, batch in hand
                return
            logging.shutdown()
            os._exit(137)  # like kill -9: no cleanup, no deletes, no publish
