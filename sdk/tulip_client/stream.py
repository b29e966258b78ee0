"""`Stream`: the WebSocket stream of market and order messages, gap-free per market topic.

Reconnects with exponential backoff and full jitter; detects gaps by `prevSeq` and resyncs
through `GET /poll` (which returns the very messages the socket carries, docs/realtime.md) or a
fresh `GET /book` snapshot; falls back to `GET /poll` after repeated socket failures or a 4008
(slow consumer), and goes back to the socket once it connects again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.exceptions import WebSocketException

from tulip_client.backoff import Backoff
from tulip_client.errors import StreamFatal
from tulip_client.rest import TulipClient

log = logging.getLogger(__name__)

Message = dict[str, Any]
CLOSE_UNAUTHORIZED = 4401
CLOSE_SLOW_CONSUMER = 4008


@dataclass
class StreamStats:
    connects: int = 0
    socket_failures: int = 0
    gaps: int = 0
    resyncs: int = 0
    polls: int = 0
    mode_changes: list[str] = field(default_factory=list)
    last_connected_at: float = 0.0


class Stream:
    """Async stream of the WebSocket messages (docs/realtime.md), gap-free per market topic.

    Iterate with `async for message in stream`. Delivered messages: `snapshot`, `book`, `trade`,
    `orderStatus` (and `heartbeat` when `deliver_heartbeats`). A resync replays the missing
    messages (from `GET /poll`) before the one that revealed the gap, or — for a book whose
    events are gone — delivers a fresh `snapshot`. Bounded everywhere: the delivery queue
    (`max_pending`), each resync (`max_resync_events`), every wait (backoff cap, poll timeout).
    """

    def __init__(self, client: TulipClient, topics: Sequence[str], *, backoff: Backoff | None = None,
                 fallback_after: int = 3, poll_period_s: float = 10.0, poll_timeout_s: float = 5.0,
                 stable_after_s: float = 5.0, max_pending: int = 10_000,
                 max_resync_events: int = 10_000, deliver_heartbeats: bool = False,
                 ws_url: str | None = None, rng: random.Random | None = None) -> None:
        self.client = client
        self.topics = list(topics)
        self.backoff = backoff or client.backoff
        self.fallback_after = fallback_after
        self.poll_period_s = poll_period_s
        self.poll_timeout_s = poll_timeout_s
        self.stable_after_s = stable_after_s
        self.max_resync_events = max_resync_events
        self.deliver_heartbeats = deliver_heartbeats
        self.ws_url_override = ws_url  # tests point it at a dead port to force the fallback
        self.rng = rng or random.Random()
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=max_pending)
        self.last_seq: dict[str, int] = {}  # market topic -> last seq delivered
        self.poll_cursor = 0  # last symbol seq examined (for /poll)
        self.mode = "socket"
        self.stats = StreamStats()
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(timeout=poll_timeout_s + 10)
        self._stop = False

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Stream:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return self

    async def close(self) -> None:
        self._stop = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._http.aclose()

    async def __aenter__(self) -> Stream:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            yield await self.queue.get()

    async def next(self, timeout: float) -> Message:
        return await asyncio.wait_for(self.queue.get(), timeout)

    # ---------------------------------------------------------------- main loop
    async def _run(self) -> None:
        attempt = 0
        while not self._stop:
            if self.mode == "poll":
                await self._poll_for(self.poll_period_s)
                self._set_mode("socket")  # try the socket again (and stay if it holds)
                continue
            started = time.monotonic()
            try:
                await self._socket_session()
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, WebSocketException, httpx.HTTPError) as exc:
                log.info("stream socket failed", extra={"why": repr(exc)})
            except StreamFatal:
                raise
            self.connected.clear()
            if time.monotonic() - started >= self.stable_after_s:
                attempt = 0  # it was stable: start the backoff afresh
            self.stats.socket_failures += 1
            attempt += 1
            if attempt >= self.fallback_after:
                attempt = 0
                self._set_mode("poll")
                continue
            await asyncio.sleep(self.backoff.delay(attempt - 1, self.rng))
            if attempt >= 2:
                await self.client.regions.arepin()

    def _set_mode(self, mode: str) -> None:
        if mode != self.mode:
            self.stats.mode_changes.append(mode)
            self.mode = mode

    def _ws_url(self) -> str:
        if self.ws_url_override:
            return f"{self.ws_url_override}?token={self.client.token}"
        base = self.client.base_url.replace("https://", "wss://").replace("http://", "ws://")
        return f"{base}/ws?token={self.client.token}"

    async def _socket_session(self) -> None:
        async with websockets.connect(self._ws_url(), open_timeout=5, close_timeout=1,
                                      max_size=2**22) as ws:
            await ws.send(json.dumps({"op": "subscribe", "topics": self.topics}))
            self.stats.connects += 1
            self.stats.last_connected_at = time.monotonic()
            self.connected.set()
            async for raw in ws:
                await self._on_message(json.loads(raw))
            if ws.close_code == CLOSE_UNAUTHORIZED:
                raise StreamFatal("token rejected (4401)")
            if ws.close_code == CLOSE_SLOW_CONSUMER:
                # Dropped for reading too slowly: the socket is not a good idea right now, the
                # long-poll paces itself to this client (docs/realtime.md).
                self._set_mode("poll")

    # ---------------------------------------------------------------- gap handling
    async def _on_message(self, message: Message) -> None:
        kind = message.get("type")
        topic = message.get("topic")
        if kind == "subscribed" and isinstance(topic, str) and topic.startswith("trades:"):
            baseline = message.get("seq")
            last = self.last_seq.get(topic)
            if isinstance(baseline, int):
                if last is not None and baseline > last:
                    # Trades happened while we were away: replay them before anything new.
                    self.stats.gaps += 1
                    await self._resync_trades(topic, last, baseline + 1)
                elif last is None:
                    self.last_seq[topic] = baseline
            return
        if kind == "snapshot" and isinstance(topic, str):
            self.last_seq[topic] = int(message["seq"])
            await self._deliver(message)
            return
        if kind in ("trade", "book") and isinstance(topic, str):
            seq, prev = int(message["seq"]), message.get("prevSeq")
            last = self.last_seq.get(topic)
            if last is not None and seq <= last:
                return  # duplicate (at-least-once) or already replayed by a resync
            if last is not None and prev is not None and prev != last:
                self.stats.gaps += 1
                if kind == "trade":
                    await self._resync_trades(topic, last, seq)
                elif not await self._resync_book(topic, last, seq, int(prev)):
                    return  # a fresh snapshot replaced the book; this delta is older news
            self.last_seq[topic] = seq
            self.poll_cursor = max(self.poll_cursor, seq)
            await self._deliver(message)
            return
        if kind == "heartbeat":
            if self.deliver_heartbeats:
                await self._deliver(message)
            return
        if kind == "orderStatus":
            await self._deliver(message)

    async def _deliver(self, message: Message) -> None:
        # Bounded: a consumer of this stream that stops reading stalls the socket reader, and the
        # server then drops us (4008) rather than anyone buffering forever.
        await self.queue.put(message)

    async def _replay(self, topic: str, after: int, before: int) -> list[Message]:
        """The messages of `topic` with after < seq < before, as the socket carried them.

        `GET /poll` with `timeoutS=0` answers at once with the messages after `fromSeq` in one
        page of the symbol's events, and `lastSeq` = the last event it examined: page on from
        there. Its prevSeq chains are the socket's own (docs/realtime.md), so no event-to-message
        mapping lives in the client. At most `max_resync_events` events are examined."""
        messages: list[Message] = []
        cursor = after
        while cursor < before - 1 and cursor - after < self.max_resync_events:
            body = await self._get("/poll", {"topics": topic, "fromSeq": cursor, "timeoutS": 0})
            messages.extend(m for m in body["items"]
                            if m.get("topic") == topic and after < int(m["seq"]) < before)
            last_seq = int(body["lastSeq"])
            if last_seq <= cursor:
                break  # nothing committed past the cursor
            cursor = last_seq
        self.stats.resyncs += 1
        return messages

    async def _resync_trades(self, topic: str, last: int, before: int) -> None:
        for message in await self._replay(topic, last, before):
            self.last_seq[topic] = int(message["seq"])
            await self._deliver(message)

    async def _resync_book(self, topic: str, last: int, before: int, prev: int) -> bool:
        """Replay the missing deltas (the last book seq is a command boundary, so the replay is
        exact); if that cannot close the gap, take a fresh snapshot instead.
        True if the delta that revealed the gap (seq `before`) still applies on top."""
        symbol = topic.partition(":")[2]
        try:
            replay = await self._replay(topic, last, before)
        except httpx.HTTPError:
            replay = []
        if replay and replay[0]["prevSeq"] == last and replay[-1]["seq"] == prev:
            for message in replay:
                self.last_seq[topic] = int(message["seq"])
                await self._deliver(message)
            return True
        book = await self._get("/book", {"symbol": symbol, "depth": 5})
        await self._deliver_snapshot(topic, book)
        return int(book["seq"]) == prev

    async def _deliver_snapshot(self, topic: str, book: Mapping[str, Any]) -> None:
        snapshot = {"type": "snapshot", "topic": topic, "seq": int(book["seq"]),
                    "bids": book["bids"], "asks": book["asks"], "ts": book.get("ts")}
        self.last_seq[topic] = snapshot["seq"]
        await self._deliver(snapshot)

    async def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        response = await self._http.get(f"{self.client.base_url}{path}", params=params,
                                        headers={"Authorization": f"Bearer {self.client.token}"})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    # ---------------------------------------------------------------- long-poll fallback
    async def _poll_for(self, seconds: float) -> None:
        """GET /poll in a loop for `seconds`: the same messages the socket would have sent."""
        deadline = time.monotonic() + seconds
        # Start from the oldest topic position; whatever a topic already has is dropped as a
        # duplicate by _on_message. A fresh client starts from a snapshot instead of history.
        market = [t for t in self.topics if ":" in t]
        if market and all(t in self.last_seq for t in market):
            self.poll_cursor = min(self.last_seq[t] for t in market)
        elif market:
            symbol = market[0].partition(":")[2]
            try:
                book = await self._get("/book", {"symbol": symbol, "depth": 5})
            except (httpx.HTTPError, ValueError):
                book = {"seq": 0, "bids": [], "asks": []}
            for topic in market:
                if topic not in self.last_seq:
                    if topic.startswith("book:"):
                        await self._deliver_snapshot(topic, book)
                    else:
                        self.last_seq[topic] = int(book["seq"])
            self.poll_cursor = min(self.last_seq[t] for t in market)
        topics = ",".join(self.topics)
        while not self._stop and time.monotonic() < deadline:
            try:
                body = await self._get("/poll", {"topics": topics, "fromSeq": self.poll_cursor,
                                                 "timeoutS": self.poll_timeout_s})
            except (httpx.HTTPError, ValueError):
                await asyncio.sleep(self.backoff.delay(1, self.rng))
                await self.client.regions.arepin()
                continue
            self.stats.polls += 1
            for message in body["items"]:
                await self._on_message(message)
            self.poll_cursor = max(self.poll_cursor, int(body["lastSeq"]))
