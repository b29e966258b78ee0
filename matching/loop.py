"""The matcher's receive loop: threads that receive from the events queue, hand each symbol's
messages to its ShardMatcher, delete after the commit, and publish after that."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from matching.queue import EventsQueue
from matching.services import LostLeadership, Received, ShardMatcher
from orders.messages import group_id
from tulip import logs
from tulip.tracing import span

log = logging.getLogger("matching.loop")

LONG_POLL_S = 2  # short enough that stop() returns quickly, long enough not to spin
ERROR_BACKOFF_S = 1.0


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

    def start(self) -> None:
        for matcher in self.matchers.values():
            matcher.start()
        for index in range(self.thread_count):
            thread = threading.Thread(target=self._run, name=f"matcher-{index}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the in-flight batch, then return (Celery's warm shutdown calls this)."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
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
        matcher.publish(outcome.events)
        self.breakdown.add(len(batch), receive_s, outcome.engine_s, outcome.commit_s,
                           publishing - deleting, time.perf_counter() - publishing)


class CycleBreakdown:
    """Where a batch's time goes (receive / engine / commit / delete / publish), for the pipeline
    benchmark and the logs. Totals only: bounded memory however long the worker runs."""

    STAGES = ("receive", "engine", "commit", "delete", "publish")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches = 0
        self.messages = 0
        self.totals = dict.fromkeys(self.STAGES, 0.0)

    def add(self, messages: int, *durations: float) -> None:
        with self.lock:
            self.batches += 1
            self.messages += messages
            for stage, seconds in zip(self.STAGES, durations, strict=True):
                self.totals[stage] += seconds

    def summary(self) -> dict[str, float | int]:
        with self.lock:
            per_batch = {f"{stage}Ms": round(1000 * total / self.batches, 3) if self.batches else 0.0
                         for stage, total in self.totals.items()}
            return {"batches": self.batches, "messages": self.messages, **per_batch}
