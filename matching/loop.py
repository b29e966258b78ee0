"""The matcher process's loop: the shards it holds by lease, one receive thread per held shard,
and the keeper thread that renews the leases and rebalances (docs/architecture.md, "Shard
leases").

Each held shard has a ShardWorker: a thread that long-polls the shard's own FIFO queue, hands the
batch to the shard's ShardMatcher, deletes after the commit, and hands the committed batch to the
shard's OrderedPublisher. Publishing (Redis snapshot + Channels group_send, several round trips
per message) is off the critical path: one thread per shard with a bounded queue delivers the
batches strictly in commit order, while SQS hands out the group's next batch as soon as the
delete returns.

The keeper (`MatcherLoop.tick`, every lease TTL / 5, at most 1 s): renews the held leases, announces the
process as a live member, reads every shard and member, and carries out the lease plan
(matching/leases.py): takes free or expired shards up to the fair share, asks workers above it to
stop after their in-flight batch and then gives those leases back. A worker whose lease cannot be
renewed, or whose commit is refused by the fenced condition, drops its shard and its book."""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matching import faults, leases
from matching.queue import EventsQueue
from matching.services import LostLeadership, Publication, Received, ShardMatcher
from matching.storage import MatcherStorage
from tulip import logs, metrics
from tulip.clock import now_iso
from tulip.heap import freeze_startup_heap
from tulip.regions import Leadership
from tulip.schema import MatcherItem, ShardItem
from tulip.tracing import span

log = logging.getLogger("matching.loop")

ERROR_BACKOFF_S = 1.0
# Committed batches waiting to be published, per symbol. Bounded: when publishing falls this far
# behind, the matcher waits for it (backpressure) rather than buffering without limit or dropping
# a batch (which would break the prevSeq chains clients follow).
PUBLISH_QUEUE_BATCHES = 64
PUBLISH_DRAIN_S = 10.0  # stop(): how long the publishers may take to flush committed batches


class OrderedPublisher:
    """One shard's fan-out thread. Publications are submitted only after their batch committed
    (and was deleted), by the shard's one worker thread, so the queue holds them in commit order;
    one thread delivers them in that order. Delivery is best effort (a
    failure is logged, clients resync by seq), so the thread outlives any publish failure."""

    def __init__(self, matcher: ShardMatcher, breakdown: CycleBreakdown,
                 capacity: int = PUBLISH_QUEUE_BATCHES) -> None:
        self.matcher = matcher
        self.breakdown = breakdown
        self.pending: queue.Queue[Publication | None] = queue.Queue(capacity)
        self.thread = threading.Thread(target=self._run, name=f"publisher-{matcher.symbol}",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def submit(self, publication: Publication) -> None:
        self.pending.put(publication)  # blocks while full: backpressure, never a dropped batch

    def close(self, timeout: float) -> None:
        """Deliver everything already submitted (bounded by timeout), then end the thread."""
        if not self.thread.is_alive():
            return
        try:
            self.pending.put(None, timeout=timeout)
        except queue.Full:
            log.warning("publisher still full at stop; unpublished batches are left to resync",
                        extra={"symbol": self.matcher.symbol})
            return
        self.thread.join(timeout)

    def _run(self) -> None:
        while True:
            publication = self.pending.get()
            if publication is None:
                return
            started = time.perf_counter()
            try:
                self.matcher.deliver(publication)
            except Exception:  # deliver is best effort already; never let this thread die
                log.exception("publish failed (clients resync by seq)",
                              extra={"symbol": self.matcher.symbol})
            self.breakdown.delivered(time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    ttl_s: float  # a lease not renewed for this long may be taken by another process
    max_shards: int  # the cap on shards one process holds (MATCHER_MAX_SHARDS)
    # A worker's long poll (MATCHER_RECEIVE_WAIT_S): what a stop or a rebalance waits for at
    # most; on AWS each empty poll of an idle queue is a billed request (docs/architecture.md).
    receive_wait_s: int = 1

    @property
    def tick_s(self) -> float:
        # Renew well before expiry (four missed ticks still keep the lease), and look for free
        # shards and newcomers at least every second, however long the TTL.
        return min(self.ttl_s / 5, 1.0)


class ShardWorker:
    """One held shard: its receive thread, its matcher and its ordered publisher. Started by the
    keeper after it took the lease; ends when asked to (rebalance, stop) or when the shard was
    lost (fenced commit, failed renewal). Only its own thread touches the engine."""

    def __init__(self, loop: MatcherLoop, matcher: ShardMatcher, events: EventsQueue,
                 shard: ShardItem) -> None:
        self.loop = loop
        self.matcher = matcher
        self.symbol = matcher.symbol
        self.events = events
        self.shard = shard
        self.lease_expires_ms = shard.lease_expires_ms or 0
        self.publisher = OrderedPublisher(matcher, loop.breakdown)
        self.stop_requested = threading.Event()
        self.ready = threading.Event()  # its book is rebuilt: it is taking batches
        self.lost = threading.Event()
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"matcher-{self.symbol}",
                                       daemon=True)

    @property
    def epoch(self) -> int:
        return self.shard.epoch

    def start(self) -> None:
        self.thread.start()

    def request_stop(self) -> None:
        self.stop_requested.set()

    def lose(self, why: str) -> None:
        if not self.lost.is_set():
            log.warning("shard lost; dropping it and its book",
                        extra={"symbol": self.symbol, "epoch": self.epoch, "why": why})
        self.lost.set()

    def _run(self) -> None:
        try:
            self.matcher.start(self.shard)
            self.publisher.start()
            self.ready.set()
            while not self.stop_requested.is_set() and not self.lost.is_set():
                self._guarded_cycle()
        except LostLeadership as exc:
            self.lose(str(exc))
        except Exception:
            log.exception("shard worker failed to start; the lease will lapse",
                          extra={"symbol": self.symbol})
            self.lose("start failed")
        finally:
            self.publisher.close(PUBLISH_DRAIN_S)  # what was committed still gets published
            self.ready.set()
            self.finished.set()

    def _guarded_cycle(self) -> None:
        try:
            self.cycle()
        except LostLeadership as exc:
            self.lose(str(exc))
        except Exception:
            log.exception("matcher cycle failed; nothing deleted, SQS will redeliver",
                          extra={"symbol": self.symbol})
            self.stop_requested.wait(ERROR_BACKOFF_S)

    def cycle(self) -> int:
        if self.matcher.pending_cancels and not self.lost.is_set():
            self._one_batch([], 0.0)  # a rebuilt book's unsequenced cancels go first, at once
        started = time.perf_counter()
        received = self.events.receive(self.loop.lease.receive_wait_s)
        if not received or self.lost.is_set():
            return 0  # a lost shard's messages stay with SQS, for the new holder
        receive_s = time.perf_counter() - started
        with span("matcher.batch", symbol=self.symbol, messages=len(received)):
            logs.bind(symbol=self.symbol)
            parts = [[m] for m in received] if self.loop.per_message else [received]
            for part in parts:
                self._one_batch(part, receive_s)
                receive_s = 0.0
        return len(received)

    def _one_batch(self, batch: list[Received], receive_s: float) -> None:
        outcome = self.matcher.process(batch)
        if self.loop.fault and outcome.commands:
            self.loop.fault("after_commit")
        deleting = time.perf_counter()
        self.events.delete(outcome.delete)
        self.events.release(outcome.poison)
        publishing = time.perf_counter()
        publication = self.matcher.publication(outcome.events)  # the book snapshot, taken now
        if publication is not None:
            self.publisher.submit(publication)
        self.loop.breakdown.add(len(batch), receive_s, outcome.engine_s, outcome.commit_s,
                                publishing - deleting, time.perf_counter() - publishing)


class MatcherLoop:
    """The shards this process holds, and the keeper that holds them."""

    def __init__(self, symbols: Sequence[str], store: MatcherStorage, holder: str,
                 make_matcher: Callable[[str], ShardMatcher],
                 make_queue: Callable[[str], EventsQueue], lease: LeaseSettings,
                 leadership: Callable[[], Leadership],
                 fault: Callable[[str], None] | None = None, per_message: bool = False) -> None:
        self.symbols = tuple(symbols)
        self.store = store
        self.holder = holder
        self.make_matcher = make_matcher
        self.make_queue = make_queue
        self.lease = lease
        # Whether this process's region leads, and under which term (tulip.regions): only the
        # leader region holds shards; a new term's takes fence every older holder.
        self.leadership = leadership
        self.fault = fault
        # per_message: one commit per message, the baseline group commit is measured against.
        self.per_message = per_message
        self.breakdown = CycleBreakdown()
        self.workers: dict[str, ShardWorker] = {}
        self.started_at = now_iso()
        self.stopping = threading.Event()
        self.keeper = threading.Thread(target=self._keep, name="lease-keeper", daemon=True)
        self.rng = random.Random(f"{holder}:{os.getpid()}")

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 60.0) -> None:
        """Take this process's first shards and wait until their books are rebuilt, so that
        "started" means serving; then keep the leases from the keeper thread."""
        self.tick()
        deadline = time.monotonic() + timeout
        for worker in list(self.workers.values()):
            worker.ready.wait(max(0.0, deadline - time.monotonic()))
        freeze_startup_heap()  # clients and connections open: the rest of the heap is long-lived
        self.keeper.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish every in-flight batch, give the leases back, leave (Celery's warm shutdown)."""
        self.stopping.set()
        self.keeper.join(timeout)
        for worker in self.workers.values():
            worker.request_stop()
        for symbol, worker in list(self.workers.items()):
            worker.thread.join(timeout)
            self._reap(symbol, worker)
        try:
            self.store.leave(self.holder)
        except Exception:
            log.warning("could not leave the matcher membership (it expires on its own)")
        log.info("cycle breakdown", extra=self.breakdown.summary())

    @property
    def held(self) -> list[str]:
        return sorted(s for s, w in self.workers.items() if not w.lost.is_set())

    # ------------------------------------------------------------------ the keeper
    def _keep(self) -> None:
        while not self.stopping.wait(self.lease.tick_s):
            if faults.FROZEN.is_set():  # a test's frozen holder (matching/faults.py) does nothing
                continue
            try:
                self.tick()
            except Exception:  # DynamoDB unreachable: leases lapse; fencing keeps it safe
                log.exception("lease keeper tick failed")

    def tick(self) -> None:
        now_ms = int(time.time() * 1000)
        expires_ms = now_ms + int(self.lease.ttl_s * 1000)
        self._renew(now_ms, expires_ms)
        leadership = self.leadership()
        self.store.heartbeat(MatcherItem(
            holder=self.holder, sk=self.holder, expires_ms=expires_ms, region=leadership.region,
            started_at=self.started_at, shards=",".join(self.held) or None))
        shards = self.store.read_shards(self.symbols)
        members = [m for m in self.store.members() if m.region == leadership.region]
        lease_plan = leases.plan(self.holder, shards, members, self.held, now_ms,
                                 self.lease.max_shards, self.rng, leadership.term,
                                 leadership.leads)
        for symbol in lease_plan.release:
            log.info("giving a shard back", extra={"symbol": symbol, "target": lease_plan.target,
                                                   "leads": leadership.leads})
            self.workers[symbol].request_stop()
        for shard in lease_plan.take:
            if self.stopping.is_set():
                break
            if shard.pk.removeprefix(ShardItem.PREFIX) not in self.workers:  # not still ending
                self._take(shard, leadership.term, expires_ms)
        metrics.MATCHER_SHARDS_HELD.set(len(self.held))

    def _renew(self, now_ms: int, expires_ms: int) -> None:
        for symbol, worker in list(self.workers.items()):
            if worker.finished.is_set():
                self._reap(symbol, worker)
                continue
            if worker.lost.is_set():
                continue
            try:
                renewed = self.store.renew_lease(symbol, self.holder, worker.epoch, expires_ms)
            except Exception:
                log.warning("lease renewal failed", extra={"symbol": symbol}, exc_info=True)
                renewed = now_ms < worker.lease_expires_ms  # still ours until it runs out
            if renewed:
                worker.lease_expires_ms = max(worker.lease_expires_ms, expires_ms)
            else:
                metrics.LEASE_RENEW_FAILURES.labels(symbol).inc()
                worker.lose("lease not renewed: another process took the shard")

    def _take(self, observed: ShardItem, term: int, expires_ms: int) -> None:
        symbol = observed.pk.removeprefix(ShardItem.PREFIX)
        fork = self.store.fork_seq(symbol, observed, term)
        shard = self.store.take_shard(symbol, self.holder, observed, term, expires_ms, now_iso(),
                                      fork, self.store.same_queue(symbol, observed, term))
        if shard is None:
            return  # another process won this take
        previous = observed.holder
        if previous is not None and previous != self.holder:
            metrics.TAKEOVERS.labels(symbol).inc()
            silent_s = time.time() - ((observed.lease_expires_ms or 0) / 1000 - self.lease.ttl_s)
            metrics.TAKEOVER_SECONDS.observe(max(0.0, silent_s))
            log.warning("took over a shard", extra={"symbol": symbol, "epoch": shard.epoch,
                                                    "from": previous})
        worker = ShardWorker(self, self.make_matcher(symbol), self.make_queue(symbol), shard)
        self.workers[symbol] = worker
        worker.start()

    def _reap(self, symbol: str, worker: ShardWorker) -> None:
        """A finished worker: give its lease back unless it was lost (then the epoch moved)."""
        if not worker.lost.is_set():
            try:
                self.store.release_shard(symbol, self.holder, worker.epoch)
            except Exception:
                log.warning("could not release the lease (it expires on its own)",
                            extra={"symbol": symbol})
        self.workers.pop(symbol, None)
        log.info("matcher stopped", extra={"symbol": symbol, "epoch": worker.epoch,
                                           "seq": worker.matcher.engine.last_seq,
                                           "stateHash": worker.matcher.engine.state_hash()})


class CycleBreakdown:
    """Where a batch's time goes (receive / engine / commit / delete / publish), for the pipeline
    benchmark and the logs. Totals only: bounded memory however long the worker runs. "publish" is
    what the cycle pays (snapshot + hand-over); "deliverMs" is the publisher threads' own time per
    published batch, off the critical path."""

    STAGES = ("receive", "engine", "commit", "delete", "publish")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches = 0
        self.messages = 0
        self.totals = dict.fromkeys(self.STAGES, 0.0)
        self.deliveries = 0
        self.deliver_s = 0.0

    def add(self, messages: int, *durations: float) -> None:
        with self.lock:
            self.batches += 1
            self.messages += messages
            for stage, seconds in zip(self.STAGES, durations, strict=True):
                self.totals[stage] += seconds

    def delivered(self, seconds: float) -> None:
        with self.lock:
            self.deliveries += 1
            self.deliver_s += seconds

    def summary(self) -> dict[str, float | int]:
        with self.lock:
            per_batch = {f"{stage}Ms": round(1000 * total / self.batches, 3) if self.batches else 0.0
                         for stage, total in self.totals.items()}
            deliver = round(1000 * self.deliver_s / self.deliveries, 3) if self.deliveries else 0.0
            return {"batches": self.batches, "messages": self.messages, **per_batch,
                    "deliveries": self.deliveries, "deliverMs": deliver}
