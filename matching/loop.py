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

log = logging.getLogger("matching.loop")

LONG_POLL_S = 2  # short enough that stop() returns quickly, long enough not to spin
ERROR_BACKOFF_S = 1.0


class MatcherLoop:
    def __init__(self, matchers: dict[str, ShardMatcher], queue: EventsQueue,
                 threads: int | None = None, fault: Callable[[str], None] | None = None) -> None:
        self.fault = fault
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
        received = self.queue.receive(LONG_POLL_S)
        if not received:
            return 0
        groups: dict[str, list[Received]] = defaultdict(list)
        for group, message in received:
            groups[group].append(message)
        for group, batch in groups.items():
            matcher = self.by_group.get(group)
            if matcher is None:
                log.error("message for a symbol this matcher does not serve",
                          extra={"group": group, "count": len(batch)})
                continue
            with self.locks[matcher.symbol]:
                logs.bind(symbol=matcher.symbol)
                outcome = matcher.process(batch)
                if self.fault and outcome.commands:
                    self.fault("after_commit")
                self.queue.delete(outcome.delete)
                self.queue.release(outcome.poison)
                matcher.publish(outcome.events)
        return len(received)
