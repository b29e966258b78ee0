"""Matcher processes in the simulation: the real `MatcherLoop` (keeper: renew, membership, the
lease plan, take, give back, reap), the real `ShardMatcher`, `MatcherStorage` and `EventsQueue`;
only the threads are simulated.

`SimShardWorker` is the real `ShardWorker` whose thread is a simulated one: its step is the body of
`ShardWorker._run` (start the matcher, then `cycle()` until stopped or lost, then finish), one
cycle per step, with `_guarded_cycle`'s handling (a lost shard is dropped; any other failure
backs off `ERROR_BACKOFF_S` without deleting anything). Its publisher is a simulated thread that
delivers each committed batch in commit order. The crash windows and the lease pause are the
code's own fault points (`ShardMatcher.fault("before_commit")`, `MatcherLoop.fault("after_commit")`)
plus the hand-over to the publisher.
"""

from __future__ import annotations

import contextlib
import inspect
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matching.loop import ERROR_BACKOFF_S, LeaseSettings, MatcherLoop, ShardWorker
from matching.queue import EventsQueue
from matching.services import LostLeadership, Publication, ShardMatcher
from matching.storage import MatcherStorage
from tests.sim.faults import Faults
from tests.sim.world import SimCrash, SimProcess, SimThread, World
from tulip.config import Config
from tulip.schema import book_snapshot_key

WAKE_S = 0.001  # a long poll returns this soon after a message arrives
PUBLISH_DELAY_S = 0.001


@dataclass
class MatcherContext:
    """What a simulated matcher process's loop needs of the simulation."""

    world: World
    process: SimProcess
    faults: Faults
    lease_ttl_s: float
    on_publish: Callable[[str, Sequence[dict[str, Any]], dict[str, Any]], None]


class SimPublisher:
    """The shard's OrderedPublisher as a simulated thread per batch, in commit order."""

    def __init__(self, worker: SimShardWorker) -> None:
        self.worker = worker

    def submit(self, publication: Publication) -> None:
        context = self.worker.context
        if context.faults.crash("matcher_before_publish"):
            raise SimCrash
        context.world.spawn(context.process, f"{context.process.name}/publish",
                            lambda: self._deliver(publication), PUBLISH_DELAY_S)

    def _deliver(self, publication: Publication) -> None:
        self.worker.matcher.deliver(publication)

    def close(self, timeout: float) -> None:
        """Nothing to drain: each batch was handed to its own delivery step."""


class SimShardWorker(ShardWorker):
    def __init__(self, loop: MatcherLoop, matcher: ShardMatcher, events: EventsQueue,
                 shard: Any) -> None:
        super().__init__(loop, matcher, events, shard)
        self.context: MatcherContext = getattr(loop, "sim_context")  # noqa: B009 - set by start
        self.publisher = SimPublisher(self)  # type: ignore[assignment]
        self.sim_thread: SimThread | None = None
        self.leading = False

    def start(self) -> None:
        context = self.context
        self.sim_thread = context.world.spawn(context.process,
                                              f"{context.process.name}/{self.symbol}", self.step)
        queue = context.process.region.sqs.queue(self.events.url)
        queue.on_send.append(self._wake)

    def _wake(self) -> None:
        if self.sim_thread is not None:
            self.context.world.wake(self.sim_thread, WAKE_S)

    def step(self) -> float | None:
        """One pass of ShardWorker._run's loop."""
        if not self.leading:
            return self._begin()
        if self.stop_requested.is_set() or self.lost.is_set():
            return self._finish()
        try:
            received = self.cycle()
        except LostLeadership as exc:
            self.lose(str(exc))
            return 0.0
        except Exception:
            return ERROR_BACKOFF_S  # nothing deleted: SQS redelivers
        return 0.0 if received else float(self.loop.lease.receive_wait_s)

    def _begin(self) -> float | None:
        try:
            self.matcher.start(self.shard)
        except LostLeadership as exc:
            self.lose(str(exc))
            return self._finish()
        except Exception:
            self.lose("start failed")
            return self._finish()
        self.leading = True
        self.ready.set()
        return 0.0

    def _finish(self) -> None:
        self.publisher.close(0.0)
        self.ready.set()
        self.finished.set()
        queue = self.context.process.region.sqs.queue(self.events.url)
        if self._wake in queue.on_send:
            queue.on_send.remove(self._wake)
        return None


class SimFanout:
    """The CommitListener (realtime's fan-out in production): the book snapshot to Redis, after
    a check that everything published is already committed."""

    def __init__(self, context: Callable[[], MatcherContext], prefix: str) -> None:
        self.context = context
        self.prefix = prefix

    def committed(self, symbol: str, events: Sequence[dict[str, Any]],
                  snapshot: dict[str, Any]) -> None:
        context = self.context()
        context.on_publish(symbol, events, snapshot)
        context.process.region.redis.set(book_snapshot_key(self.prefix, symbol), snapshot)

    def resumed(self, symbol: str, last_seq: int, snapshot: dict[str, Any]) -> None:
        self.context().process.region.redis.set(book_snapshot_key(self.prefix, symbol), snapshot)


def start_matcher(process: SimProcess, world: World, cfg: Config, faults: Faults,
                  on_publish: Callable[[str, Sequence[dict[str, Any]], dict[str, Any]], None],
                  ) -> None:
    """A (re)started matcher process: a new holder name, a fresh loop, its keeper thread."""
    context = MatcherContext(world, process, faults, cfg.matcher_lease_ttl_s, on_publish)
    store = MatcherStorage(cfg)
    holder = f"{process.name}:{process.incarnation}"
    fanout = SimFanout(lambda: context, cfg.redis_key_prefix)

    def fault(point: str) -> None:
        _matcher_fault(context, point)

    def make_matcher(symbol: str) -> ShardMatcher:
        return ShardMatcher(cfg, symbol, store, fanout, fault)

    def make_queue(symbol: str) -> EventsQueue:
        return EventsQueue(cfg, symbol)

    lease = LeaseSettings(cfg.matcher_lease_ttl_s, cfg.matcher_max_shards,
                          cfg.matcher_receive_wait_s)
    loop = MatcherLoop(cfg.symbols, store, holder, make_matcher, make_queue, lease,
                       **_loop_options(cfg, fault))
    loop.rng = random.Random(f"{world.seed}:{holder}")
    loop.sim_context = context  # type: ignore[attr-defined]
    process.state = loop
    world.spawn(process, f"{process.name}/keeper", lambda: _keeper_step(loop))


def _loop_options(cfg: Config, fault: Callable[[str], None]) -> dict[str, Any]:
    options: dict[str, Any] = {"fault": fault}
    if "leadership" in inspect.signature(MatcherLoop).parameters:
        from tulip import regions

        options["leadership"] = lambda: regions.read(cfg)
    return options


def _keeper_step(loop: MatcherLoop) -> float:
    """One pass of MatcherLoop._keep: a failed tick lets the leases lapse (fencing keeps it safe)."""
    with contextlib.suppress(Exception):
        loop.tick()
    return loop.lease.tick_s


def _matcher_fault(context: MatcherContext, point: str) -> None:
    if point == "before_commit":
        if context.faults.hit("lease_pause_mid_batch", context.faults.rates.lease_pause):
            pause = context.lease_ttl_s + context.world.rng.uniform(0.5, 3.0)
            context.world.pause(context.process, pause)
            context.world.pass_time(0.0)  # stopped here, batch in hand, until the pause ends
        if context.faults.crash("matcher_before_commit"):
            raise SimCrash
    elif point == "after_commit" and context.faults.crash("matcher_after_commit"):
        raise SimCrash

