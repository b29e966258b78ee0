"""Keeps the local stack serving as an orchestrator would: a child that dies (kill -9 included) is
started again after a backoff, and logged; everything else keeps running (docs/devstack.md,
"Process supervision").

Restarted: the ASGI server, the tasks worker, every matcher process, the stream projector and the
embedded Redis (which comes back empty on the same port: Redis holds only derived data). Not
restarted: the moto server, whose state (every table and queue) lives in its memory: with it gone
the stack has nothing to serve, so the supervisor reports it and the launcher stops.

Backoff: 1 s after the first death, doubling up to 30 s while a child keeps dying within
STABLE_S of its start; a child that stayed up that long starts again from 1 s. A restart spawns
the child's own command again, from the thread that runs `check` (PDEATHSIG follows the spawning
thread: the launcher's main thread, or the one long-lived supervisor thread of a test stack).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the launcher starts the supervisor; this module only drives the stack
    from devstack.launcher import LocalStack

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_S = 30.0
NOT_RESTARTED = frozenset({"moto"})


@dataclass
class _Restarts:
    count: int = 0
    backoff_s: float = FIRST_BACKOFF_S
    due_at: float | None = None  # when the dead child is to be started again
    started_at: float = 0.0


class Supervisor:
    def __init__(self, stack: LocalStack, say: Callable[[str], None] = print) -> None:
        self.stack = stack
        self.say = say
        self.restarts: dict[str, _Restarts] = {}
        self.paused: set[str] = set()  # children a test stopped on purpose and restarts itself
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def check(self, now: float | None = None) -> str | None:
        """One pass: restart what is due. Returns a reason to stop the stack, or None."""
        now = time.monotonic() if now is None else now
        for name, child in list(self.stack.children.items()):
            code = child.process.poll()
            if code is None or name in self.paused:
                continue
            if name in NOT_RESTARTED:
                return f"{name} exited ({code}); it holds the stack's state, so the stack stops"
            state = self.restarts.setdefault(name, _Restarts(started_at=now))
            if state.due_at is None:
                if now - state.started_at >= STABLE_S:
                    state.backoff_s = FIRST_BACKOFF_S
                state.due_at = now + state.backoff_s
                self.say(f"{name} exited ({code}); restarting in {state.backoff_s:.0f}s "
                         f"(restart {state.count + 1}). Log: {child.log_path}")
            elif now >= state.due_at:
                self.stack.respawn(name)
                state.count += 1
                state.started_at = now
                state.due_at = None
                state.backoff_s = min(MAX_BACKOFF_S, state.backoff_s * 2)
                self.say(f"{name} restarted (pid {self.stack.children[name].process.pid})")
        return None

    # ---------------------------------------------------------------- a test stack's own thread
    def start(self, interval_s: float = 0.2) -> Supervisor:
        """Supervise from a background thread (test stacks; `make run` calls `check` itself)."""
        def run() -> None:
            while not self._stopping.wait(interval_s):
                reason = self.check()
                if reason:
                    self.say(reason)
                    return

        self._thread = threading.Thread(target=run, name="supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
