"""The matcher's fan-out over Redis + the Channels layer (docs/storage.md, "Publication after
commit"): the composition root wraps it in the matcher's CommitListener, and the matcher's
publisher thread calls it after each durable commit.

Best effort by contract: every failure is logged and swallowed (clients resync by seq; the
state of record is already in DynamoDB). Every wait is bounded by PUBLISH_TIMEOUT_S so a dead
Redis slows the matcher by at most that much per call.

The channel layer lives on one private event loop thread for the publisher's lifetime: the
`async_to_sync` of each call without it would open a new loop — and new Redis connections —
per publish."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import redis
from channels_redis.core import RedisChannelLayer

from realtime import storage
from realtime.messages import encode
from tulip import schema
from tulip.config import Config
from tulip.schema import book_snapshot_key

log = logging.getLogger("realtime.publisher")

PUBLISH_TIMEOUT_S = 2.0
# Must match the consumers' layer (tulip/settings.py CHANNEL_LAYERS): capacity is enforced by the
# sender, the prefix decides which keys the consumers read.
LAYER_CAPACITY = 1000
LAYER_EXPIRY_S = 30
# Messages per channel-layer message: bounds one Redis value (a few hundred bytes a message).
LAYER_BATCH = 100
T = TypeVar("T")


def advance_book_seq(cfg: Config, symbol: str, from_seq: int, to_seq: int) -> bool:
    """An event that moves no level was appended outside the matcher (ops' Reconciled event,
    through the shard's fence, ops/services.py): the book snapshot the matcher published at
    `from_seq` is the book at `to_seq` as well, so GET /book names the shard's lastSeq again
    without waiting for the matcher's next commit. Compare-and-set: a snapshot at any other seq
    (a newer one, or none) is left alone. Best effort, like every publish: False when not done."""
    # Any: redis-py types a pipeline's watch() and get() loosely (sync and async in one stub).
    client: Any = redis.Redis.from_url(cfg.redis_url, socket_timeout=PUBLISH_TIMEOUT_S,
                                       socket_connect_timeout=PUBLISH_TIMEOUT_S)
    key = book_snapshot_key(cfg.redis_key_prefix, symbol)
    try:
        with client.pipeline() as pipe:
            pipe.watch(key)
            raw = pipe.get(key)
            snapshot = json.loads(raw) if raw is not None else None
            if not isinstance(snapshot, dict) or snapshot.get("seq") != from_seq:
                return False
            pipe.multi()
            pipe.set(key, json.dumps({**snapshot, "seq": to_seq}, separators=(",", ":")))
            pipe.execute()
        return True
    except Exception:  # WatchError (the matcher published meanwhile), or Redis is away
        log.warning("book snapshot seq not advanced", exc_info=True, extra={"symbol": symbol})
        return False
    finally:
        client.close()


class ChannelsPublisher:
    def __init__(self, redis_url: str, key_prefix: str, cfg: Config | None = None) -> None:
        self.redis_url = redis_url
        self.key_prefix = key_prefix
        self.cfg = cfg
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=PUBLISH_TIMEOUT_S,
                                          socket_connect_timeout=PUBLISH_TIMEOUT_S)
        self.layer = RedisChannelLayer(hosts=[redis_url], prefix=f"{key_prefix}:asgi",
                                       capacity=LAYER_CAPACITY, expiry=LAYER_EXPIRY_S)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Last published trade seq per symbol: fills the trade chain across batches (see
        # realtime/messages.py). Read back from DynamoDB after a restart: by resume() at the
        # matcher's start, or on the first trade when that read failed.
        self._last_trade: dict[str, int] = {}
        if cfg is not None:
            schema.bind(cfg)  # the trade chain is read back from this config's tables

    # ---------------------------------------------------------------- Publisher protocol
    def publish_book_snapshot(self, symbol: str, snapshot: dict[str, Any]) -> None:
        try:
            self.redis.set(self.book_key(symbol), json.dumps(snapshot, separators=(",", ":")))
        except Exception:
            log.warning("book snapshot not published", exc_info=True, extra={"symbol": symbol})

    def publish(self, group: str, messages: Sequence[dict[str, Any]]) -> None:
        self.publish_groups({group: messages})

    def publish_groups(self, batch: Mapping[str, Sequence[dict[str, Any]]]) -> None:
        """A committed batch's messages, by group, each group's in order. Groups are independent;
        a failure loses what is left of the batch (clients resync by seq) and is not raised."""
        batch = {group: messages for group, messages in batch.items() if messages}
        if not batch:
            return
        try:
            for group, messages in batch.items():
                if group.startswith("trades."):
                    self._chain_trades(group.partition(".")[2], messages)
            self._run(self._send_batch(batch))
        except Exception:
            log.warning("group publish failed (clients resync by seq)", exc_info=True,
                        extra={"groups": len(batch), "count": sum(map(len, batch.values()))})

    def resume(self, symbol: str, last_seq: int) -> None:
        """At the matcher's start: the trade chain's last committed trade (one read now instead
        of during the first batch) and the layer's Redis connections. Best effort: whatever fails
        here happens lazily on the first batch instead."""
        try:
            if self.cfg is not None:
                last_trade = storage.last_trade_seq_before(symbol, last_seq + 1)
                with self._lock:
                    self._last_trade.setdefault(symbol, last_trade)
            self._run(self._connect())
        except Exception:
            log.warning("publisher not primed (the first batch will)", exc_info=True,
                        extra={"symbol": symbol})

    # ---------------------------------------------------------------- helpers
    def book_key(self, symbol: str) -> str:
        prefix = self.cfg.redis_key_prefix if self.cfg is not None else self.key_prefix
        return book_snapshot_key(prefix, symbol)

    def _chain_trades(self, symbol: str, messages: Sequence[dict[str, Any]]) -> None:
        """Give the batch's first trade its prevSeq when messages_for_events could not."""
        trades = [m for m in messages if m.get("type") == "trade"]
        if not trades:
            return
        with self._lock:
            first = trades[0]
            if first.get("prevSeq") is None:
                known = self._last_trade.get(symbol)
                if known is None and self.cfg is not None:
                    known = storage.last_trade_seq_before(symbol, int(first["seq"]))
                first["prevSeq"] = known
            self._last_trade[symbol] = int(trades[-1]["seq"])

    async def _send_batch(self, batch: Mapping[str, Sequence[dict[str, Any]]]) -> None:
        # group_send costs two Redis round trips per message even when nobody listens, and most
        # groups of a batch have no listener (orders.<clientId> of clients not connected). One
        # pipelined round trip per Redis host first drops expired members (as group_send does)
        # and counts the rest; only groups with members are sent to. A client that joins between
        # the count and the send misses those messages exactly as if it had joined a moment
        # later, and recovers as docs/api.md says for that: trades/book by the next message's
        # prevSeq (or the heartbeat's seqs), orderStatus by re-reading its open orders.
        by_connection: dict[int, list[str]] = defaultdict(list)
        for group in batch:
            by_connection[self.layer.consistent_hash(group)].append(group)
        listened: list[str] = []
        expired_before = int(time.time()) - self.layer.group_expiry
        for index, groups in by_connection.items():
            pipe = self.layer.connection(index).pipeline(transaction=False)
            for group in groups:
                key = self.layer._group_key(group)
                pipe.zremrangebyscore(key, min=0, max=expired_before)
                pipe.zcard(key)
            replies = await pipe.execute()
            listened.extend(g for g, members in zip(groups, replies[1::2], strict=True) if members)
        # One channel-layer message per group (per LAYER_BATCH messages), not one per message:
        # every channel-layer message costs the receiving ASGI process a Redis read and a
        # dispatch to each consumer, and each message is JSON-encoded here once instead of once
        # per socket (docs/benchmarks.md, "WebSocket fan-out benchmark"). Sequential on purpose:
        # concurrent sends could reorder a topic's messages.
        for group in listened:
            messages = batch[group]
            for start in range(0, len(messages), LAYER_BATCH):
                chunk = list(messages[start:start + LAYER_BATCH])
                await self.layer.group_send(group, {"type": "tulip.publish", "messages": chunk,
                                                    "texts": [encode(m) for m in chunk]})

    async def _connect(self) -> None:
        for index in range(self.layer.ring_size):
            await self.layer.connection(index).ping()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._ensure_loop()
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=PUBLISH_TIMEOUT_S)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="realtime-publisher",
                                          daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        loop = self._loop
        if loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self.layer.close_pools(), loop).result(timeout=1)
            except Exception:
                log.debug("publisher close", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=2)
            if not loop.is_running():
                loop.close()
            self._loop = self._thread = None
        self.redis.close()


def make_publisher(cfg: Config) -> ChannelsPublisher:
    """The composition root's factory (tulip/bootstrap.py)."""
    return ChannelsPublisher(cfg.redis_url, cfg.redis_key_prefix, cfg)
