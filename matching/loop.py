"""The matcher's receive loop: threads that receive from the events queue, hand each symbol's
messages to its ShardMatcher, delete after the commit, and publish after that.

Publishing (Redis snapshot + Channels group_send, several round trips per message) is off the
critical path: after a batch is committed and deleted, its Publication goes to that symbol's
OrderedPublisher, one thread with a bounded queue, which delivers the symbol's batches strictly in
commit order. SQS hands out a group's next batch as soon as the delete returns, so the next batch
is received and matched while the previous one is being published."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from matching.queue import EventsQueue
from matching.services import LostLeadership, Publication, Received, ShardMatcher
from tulip import logs
from tulip.heap import freeze_startup_heap
from tulip.tracing import span
from tulip.wire import group_id

log = logging.getLogger("matching.loop")

LONG_POLL_S = 2  # short enough that stop() returns quickly, long enough not to spin
ERROR_BACKOFF_S = 1.0
# Committed batches waiting to be published, per symbol. Bounded: when publishing falls this far
# behind, the matcher waits for it (backpressure) rather than buffering without limit or dropping
# a batch (which would break the prevSeq chains clients follow).
PUBLISH_QUEUE_BATCHES = 64
PUBLISH_DRAIN_S = 10.0  # stop(): how long the publishers may take to flush committed batches


class OrderedPublisher:
    """One symbol's fan-out thread. Publications are submitted only after their batch committed
    (and was deleted), by the one loop thread that holds the symbol's lock, so the queue holds
    them in commit order; one thread delivers them in that order. Delivery is best effort (a
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


class MatcherLoop:
    def __init__(self, matchers: dict[str, ShardMatcher], queue: EventsQueue,
                 threads: int | None = None, fault: Callable[[str], None] | None = None,
                 per_message: bool = False) -> None:
        self.fault = fault
        # per_message: one commit per message, the baseline group commit is measured against.
        self.per_message = per_message
        self.breakdown = CycleBreakdown()
        self.matchers = matchers
        self.by_group = {group_id(symbol): m for symbol, m in matchers.items()}
        self.queue = queue
        # One thread per shard is enough: SQS hands out one batch of a group at a time.
        self.thread_count = threads or max(1, min(len(matchers), 8))
        self.locks = {symbol: threading.Lock() for symbol in matchers}
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.deposed = threading.Event()
        self.publishers = {symbol: OrderedPublisher(m, self.breakdown)
                           for symbol, m in matchers.items()}

    def start(self) -> None:
        for matcher in self.matchers.values():
            matcher.start()
        for publisher in self.publishers.values():
            publisher.start()
        # Books rebuilt, clients and connections open: the rest of the heap is long-lived.
        freeze_startup_heap()
        for index in range(self.thread_count):
            thread = threading.Thread(target=self._run, name=f"matcher-{index}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the in-flight batch, then return (Celery's warm shutdown calls this)."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        for publisher in self.publishers.values():  # what was committed still gets published
            publisher.close(PUBLISH_DRAIN_S)
        log.info("cycle breakdown", extra=self.breakdown.summary())
        for symbol, matcher in self.matchers.items():
            log.info("matcher stopped", extra={"symbol": symbol, "seq": matcher.engine.last_seq,
                                               "stateHash": matcher.engine.state_hash()})

    def _run(self) -> None:
        while not self.stopping.is_set() and not self.deposed.is_set():
            try:
                self.cycle()
            except LostLeadership as exc:
                # A newer epoch owns a shard: a deposed worker stops consuming altogether, so it
                # cannot steal receives (and redrive counts) from the new leader.
                log.error("lost leadership; matcher stops", extra={"why": str(exc)})
                self.deposed.set()
            except Exception:
                log.exception("matcher cycle failed; nothing deleted, SQS will redeliver")
                time.sleep(ERROR_BACKOFF_S)

    def cycle(self) -> int:
        started = time.perf_counter()
        received = self.queue.receive(LONG_POLL_S)
        if not received:
            return 0
        receive_s = time.perf_counter() - started
        groups: dict[str, list[Received]] = defaultdict(list)
        for group, message in received:
            groups[group].append(message)
        for group, batch in groups.items():
            matcher = self.by_group.get(group)
            if matcher is None:
                log.error("message for a symbol this matcher does not serve",
                          extra={"group": group, "count": len(batch)})
                continue
            with self.locks[matcher.symbol], span("matcher.batch", symbol=matcher.symbol,
                                                   messages=len(batch)):
                logs.bind(symbol=matcher.symbol)
                batches = [[m] for m in batch] if self.per_message else [batch]
                for part in batches:
                    self._one_batch(matcher, part, receive_s)
                    receive_s = 0.0
        return len(received)

    def _one_batch(self, matcher: ShardMatcher, batch: list[Received], receive_s: float) -> None:
        outcome = matcher.process(batch)
        if self.fault and outcome.commands:
            self.fault("after_commit")
        deleting = time.perf_counter()
        self.queue.delete(outcome.delete)
        self.queue.release(outcome.poison)
        publishing = time.perf_counter()
        publication = matcher.publication(outcome.events)  # the book snapshot, taken now
        if publication is not None:
            self.publishers[matcher.symbol].submit(publication)
        self.breakdown.add(len(batch), receive_s, outcome.engine_s, outcome.commit_s,
                           publishing - deleting, time.perf_counter() - publishing)


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
