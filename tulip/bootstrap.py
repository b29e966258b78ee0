"""Composition root for long-running workers: wires storage, queue, engine and fan-out."""

from __future__ import annotations

import logging
import os
import socket
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from matching.faults import CrashPlan
from matching.loop import LeaseSettings, MatcherLoop
from matching.queue import EventsQueue
from matching.services import ShardMatcher
from matching.storage import MatcherStorage
from realtime.messages import group_for, messages_for_events
from realtime.publisher import make_publisher
from tulip import regions
from tulip.config import Config

log = logging.getLogger("tulip.bootstrap")


class RealtimeFanout:
    """The matcher's CommitListener: Redis book snapshot + WebSocket groups, via realtime/."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.publisher = make_publisher(cfg)

    def committed(self, symbol: str, events: Sequence[dict[str, Any]],
                  snapshot: dict[str, Any]) -> None:
        self.publisher.publish_book_snapshot(symbol, snapshot)
        by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in messages_for_events(symbol, list(events)):
            by_group[group_for(message)].append(message)
        self.publisher.publish_groups(by_group)

    def resumed(self, symbol: str, last_seq: int, snapshot: dict[str, Any]) -> None:
        # After a restart (or a lost Redis) GET /book has its snapshot again before any order.
        self.publisher.publish_book_snapshot(symbol, snapshot)
        self.publisher.resume(symbol, last_seq)


def build_matcher_loop() -> MatcherLoop:
    cfg: Config = settings.TULIP
    store = MatcherStorage(cfg)
    listener = RealtimeFanout(cfg)
    holder = f"{socket.gethostname()}:{os.getpid()}"
    fault = None
    crash_spec = os.environ.get("TULIP_MATCHER_CRASH", "")
    if crash_spec:
        if cfg.environment == "production":
            raise RuntimeError("TULIP_MATCHER_CRASH is a test-only fault and refused in production")
        fault = CrashPlan(crash_spec).reached

    def make_matcher(symbol: str) -> ShardMatcher:
        return ShardMatcher(cfg, symbol, store, listener, fault)

    def make_queue(symbol: str) -> EventsQueue:
        return EventsQueue(cfg, symbol)

    def leadership() -> regions.Leadership:
        return regions.current(cfg)

    return MatcherLoop(cfg.symbols, store, holder, make_matcher, make_queue,
                       LeaseSettings(cfg.matcher_lease_ttl_s, cfg.matcher_max_shards,
                                     cfg.matcher_receive_wait_s), leadership,
                       fault=fault, per_message=cfg.matcher_commit == "per_message")
