"""Composition root for long-running workers: wires storage, queue, engine and fan-out."""

from __future__ import annotations

import logging
import os
import socket
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import redis
from django.conf import settings

from matching.faults import CrashPlan
from matching.loop import MatcherLoop
from matching.queue import EventsQueue
from matching.services import ShardMatcher
from matching.storage import MatcherStorage
from orders.selectors import book_key
from tulip.config import Config

log = logging.getLogger("tulip.bootstrap")


class RealtimeFanout:
    """The matcher's CommitListener: Redis book snapshot + WebSocket groups, via realtime/."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.redis = redis.Redis.from_url(cfg.redis_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            from realtime.messages import messages_for_events
            from realtime.publisher import make_publisher
        except ImportError:  # realtime not installed in this build: snapshot only
            self.publisher: Any = None
            self.to_messages: Any = None
        else:
            self.publisher = make_publisher(cfg)
            self.to_messages = messages_for_events

    def committed(self, symbol: str, events: Sequence[dict[str, Any]],
                  snapshot: dict[str, Any]) -> None:
        if self.publisher is None:
            import json

            self.redis.set(book_key(self.cfg, symbol), json.dumps(snapshot))
            return
        self.publisher.publish_book_snapshot(symbol, snapshot)
        by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in self.to_messages(symbol, list(events)):
            by_group[group_for(message)].append(message)
        for group, messages in by_group.items():
            self.publisher.publish(group, messages)


def group_for(message: dict[str, Any]) -> str:
    """Channels group of a WebSocket message (docs/storage.md): trades.<s>, book.<s>, orders.<c>."""
    if message["type"] == "orderStatus":
        return f"orders.{message['order']['clientId']}"
    topic: str = message["topic"]
    kind, _, symbol = topic.partition(":")
    return f"{kind}.{symbol}"


def build_matcher_loop() -> MatcherLoop:
    cfg: Config = settings.TULIP
    store = MatcherStorage(cfg)
    listener = RealtimeFanout(cfg)
    leader = f"{socket.gethostname()}:{os.getpid()}"
    fault = None
    crash_spec = os.environ.get("TULIP_MATCHER_CRASH", "")
    if crash_spec:
        if cfg.environment == "production":
            raise RuntimeError("TULIP_MATCHER_CRASH is a test-only fault and refused in production")
        fault = CrashPlan(crash_spec).reached
    matchers = {symbol: ShardMatcher(cfg, symbol, store, leader, listener, fault)
                for symbol in cfg.symbols}
    return MatcherLoop(matchers, EventsQueue(cfg), fault=fault,
                       per_message=cfg.matcher_commit == "per_message")
