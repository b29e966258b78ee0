"""The simulation's clock and scheduler: one seed, one OS thread, simulated time.

Processes (API servers, the tasks worker, matcher processes, clients) own simulated threads. A
thread is a `step` function run to its end in one go; it returns how long until it wants to run
again (None: it ends). Steps are taken in time order from one heap, ties broken by scheduling
order, so a seed always makes the same history.

Concurrency happens at I/O. A simulated DynamoDB, SQS or HTTP call takes time (`pass_time`), and
while it is "on the wire" the scheduler runs the steps of other threads that fall due, nested on
the Python stack (up to MAX_DEPTH levels), so another process's write can land between a read and
a commit of the same step, exactly where real threads would interleave. A call returns to a
thread only while its process is alive and not paused: a process killed meanwhile (SimCrash) has
all its threads unwound at their next I/O, one stopped (a pause, SIGSTOP-like) resumes when the
pause ends.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

START = 1_790_000_000.0  # simulated epoch seconds at t = 0 (a fixed date: replays are exact)
MAX_DEPTH = 2


class SimCrash(BaseException):
    """The current process died here, like kill -9: the thread unwinds, nothing after it runs.
    A BaseException so that no `except Exception` in product code can swallow it."""


class SimAbort(BaseException):
    """A check failed: stop the whole run at once (carried up through product code)."""


@dataclass(eq=False)
class SimProcess:
    name: str
    kind: str  # api | worker | matcher | client | world
    region: Any
    skew_s: float = 0.0  # this process's clock minus the true time
    incarnation: int = 0
    alive: bool = True
    paused_until: float = 0.0
    state: Any = None  # what the process holds in memory (lost when it dies)
    on_start: Callable[[SimProcess], None] | None = None


@dataclass(eq=False)
class SimThread:
    name: str
    process: SimProcess
    step: Callable[[], float | None]
    incarnation: int
    token: int = 0  # the heap entry that is current (earlier ones are stale)
    due: float | None = None

    @property
    def dead(self) -> bool:
        return self.incarnation != self.process.incarnation


@dataclass
class World:
    seed: int
    rng: random.Random = field(init=False)
    now: float = START
    depth: int = 0
    stack: list[SimThread] = field(default_factory=list)
    heap: list[tuple[float, int, int, SimThread]] = field(default_factory=list)
    after_step: list[Callable[[], None]] = field(default_factory=list)
    restart_delay: Callable[[SimProcess], float] = lambda process: 1.0
    crashes: list[tuple[float, str, str]] = field(default_factory=list)  # (time, process, why)
    steps: int = 0
    # The simulation's own actions (restarts, injected faults) run as this process: it never
    # dies and its clock is true.
    system: SimProcess = field(default_factory=lambda: SimProcess("world", "world", None))
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # ---------------------------------------------------------------- context
    @property
    def current(self) -> SimThread | None:
        return self.stack[-1] if self.stack else None

    def clock(self, process: SimProcess | None = None) -> float:
        """What `time.time()` answers in a process (the current one by default)."""
        if process is None and self.current is not None:
            process = self.current.process
        return self.now + (process.skew_s if process is not None else 0.0)

    # ---------------------------------------------------------------- threads
    def spawn(self, process: SimProcess, name: str, step: Callable[[], float | None],
              delay: float = 0.0) -> SimThread:
        thread = SimThread(name, process, step, process.incarnation)
        self.schedule(thread, self.now + delay)
        return thread

    def schedule(self, thread: SimThread, at: float) -> None:
        thread.token += 1
        thread.due = at
        heapq.heappush(self.heap, (at, next(self._counter), thread.token, thread))

    def wake(self, thread: SimThread, delay: float) -> None:
        """Bring a sleeping thread's next step forward (a long poll that got a message)."""
        at = self.now + delay
        if not thread.dead and thread.due is not None and thread.due > at:
            self.schedule(thread, at)

    # ---------------------------------------------------------------- running
    def run(self, until: float, stop: Callable[[], bool] | None = None) -> bool:
        """Take steps in time order until `until`; True when `stop()` (asked between top-level
        steps) ended the run first."""
        while self.heap and self.heap[0][0] <= until:
            self._take_next()
            if stop is not None and stop():
                return True
        self.now = max(self.now, until)
        return False

    def _run_due(self, until: float) -> None:
        while self.heap and self.heap[0][0] <= until:
            self._take_next()

    def _take_next(self) -> None:
        at, _, token, thread = heapq.heappop(self.heap)
        if token != thread.token or thread.dead or thread in self.stack:
            return
        process = thread.process
        if process.paused_until > at:
            self.schedule(thread, process.paused_until)
            return
        self.now = max(self.now, at)
        thread.due = None
        delay = self.step(thread, thread.step)
        if delay is not None and not thread.dead:
            self.schedule(thread, self.now + delay)

    def step(self, thread: SimThread, body: Callable[[], Any]) -> Any:
        """Run `body` as `thread` (pushed on the stack); a SimCrash kills the thread's process."""
        self.stack.append(thread)
        self.steps += 1
        try:
            return body()
        except SimCrash:
            if not thread.dead:
                self.kill(thread.process, "crashed")
            return None
        finally:
            self.stack.pop()
            for check in self.after_step:
                check()

    # ---------------------------------------------------------------- time inside a step
    def pass_time(self, seconds: float) -> None:
        """The current thread waits `seconds` (on the wire, or asleep): others run meanwhile.
        Raises SimCrash in a thread whose process died meanwhile."""
        thread = self.current
        target = self.now + max(0.0, seconds)
        self._run_nested(target)
        self.now = max(self.now, target)
        if thread is None:
            return
        if thread.dead:
            raise SimCrash
        while thread.process.paused_until > self.now:
            resume = thread.process.paused_until
            self._run_nested(resume)
            self.now = max(self.now, resume)
            if thread.dead:
                raise SimCrash

    def _run_nested(self, until: float) -> None:
        if self.depth >= MAX_DEPTH:
            return
        self.depth += 1
        try:
            self._run_due(until)
        finally:
            self.depth -= 1

    # ---------------------------------------------------------------- process faults
    def kill(self, process: SimProcess, why: str) -> None:
        """kill -9: every thread of the process is gone, its memory too; a supervisor starts a
        new incarnation after `restart_delay`."""
        if not process.alive:
            return
        process.alive = False
        process.incarnation += 1
        process.state = None
        process.paused_until = 0.0
        self.crashes.append((self.now, process.name, why))
        supervisor = SimThread(f"restart-{process.name}", self.system,
                               lambda: self._restart(process), 0)
        self.schedule(supervisor, self.now + self.restart_delay(process))

    def _restart(self, process: SimProcess) -> None:
        process.alive = True
        if process.on_start is not None:
            process.on_start(process)

    def pause(self, process: SimProcess, seconds: float) -> None:
        """SIGSTOP for `seconds`: nothing of the process runs, then it carries on where it was."""
        process.paused_until = max(process.paused_until, self.now + seconds)

    def start(self, process: SimProcess) -> None:
        if process.on_start is not None:
            process.on_start(process)

