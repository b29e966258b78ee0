"""Deterministic fault points for crash-recovery tests (TULIP_MATCHER_CRASH), e.g.
`after_commit:5` = die like kill -9 after the 5th committed batch, before its messages are deleted;
`before_commit:3` = die with the 3rd batch applied to the engine but not committed;
`before_commit:3:stop` = SIGSTOP this very process there instead (a holder frozen mid-batch, with
its batch computed; once another process took the shard over, the test creates the release file
and sends SIGCONT).
Refused in production (tulip.bootstrap checks the environment)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

log = logging.getLogger("matching.faults")
POINTS = ("before_commit", "after_commit")
ACTIONS = ("crash", "stop")
# `stop`: the process freezes (SIGSTOP) with its batch in hand; it commits only once the file
# TULIP_MATCHER_RELEASE_FILE names exists. Until then the batch stays parked and the lease keeper
# renews nothing, even if the process runs: full test runs saw the stop not hold (the process ran
# on at once, or was continued within a second, sender unknown), and a holder that committed
# early is not the frozen holder the test needs.
RELEASE_FILE_ENV = "TULIP_MATCHER_RELEASE_FILE"
RELEASE_POLL_S = 0.05
MAX_PARKED_S = 600.0
FROZEN = threading.Event()  # set while a `stop` holds its batch: the keeper skips its ticks


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
                self._stop_until_released()  # resumes here, batch in hand
                return
            logging.shutdown()
            os._exit(137)  # like kill -9: no cleanup, no deletes, no publish

    @staticmethod
    def _stop_until_released() -> None:
        FROZEN.set()
        os.kill(os.getpid(), signal.SIGSTOP)
        release = os.environ.get(RELEASE_FILE_ENV)
        deadline = time.monotonic() + MAX_PARKED_S
        while release is not None and not os.path.exists(release):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no release within {MAX_PARKED_S:.0f}s")
            time.sleep(RELEASE_POLL_S)
        FROZEN.clear()
