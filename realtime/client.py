"""TulipBroker Python client for traders and the load/chaos tests (spec §12, design §4-§5).

- `TulipClient`: REST with bounded retries that reuse the idempotency key (a retried submit can
  never create a second order: rule 1), backoff with full jitter, region re-pinning by health.
- `Stream`: the WebSocket stream with reconnects (exponential backoff + full jitter), gap
  detection by `prevSeq` and automatic resync (`GET /events`, or a fresh book snapshot), and
  fallback to `GET /poll` after repeated socket failures — and back to the socket once it
  connects again.
- `RegionPicker`: which configured region endpoint to use; re-pins to the first one whose
  `/readyz` answers 200.

Only `httpx` and `websockets`; importable without Django."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.exceptions import WebSocketException

from realtime.messages import Message, messages_for_events

log = logging.getLogger("tulip.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CLOSE_UNAUTHORIZED = 4401
CLOSE_SLOW_CONSUMER = 4008
_RNG = random.Random()


# ------------------------------------------------------------------------------------ backoff
@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base·2ⁿ)).
    Full jitter spreads a herd of reconnecting clients over the whole window (AWS architecture
    blog, "Exponential Backoff And Jitter")."""

    base_s: float = 0.25
    cap_s: float = 2.0  # reconnect SLO is 5 s (spec §11): never wait longer than this

    def ceiling(self, attempt: int) -> float:
        return min(self.cap_s, self.base_s * (2.0 ** min(max(attempt, 0), 30)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or _RNG).uniform(0.0, self.ceiling(attempt))


class ApiError(Exception):
    """A non-retryable HTTP answer (or retries exhausted); carries the contract's error body."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', body)}")
        self.status = status
        self.body = body
        self.code = str(error.get("code", ""))


# ------------------------------------------------------------------------------------ regions
class RegionPicker:
    """Holds the region endpoints in preference order and the one currently pinned."""

    def __init__(self, endpoints: Sequence[str], probe_timeout_s: float = 3.0) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint is required")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.current = self.endpoints[0]
        self.probe_timeout_s = probe_timeout_s
        self.repins = 0

    def healthy(self, endpoint: str) -> bool:
        try:
            return httpx.get(f"{endpoint}/readyz", timeout=self.probe_timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def repin(self) -> str:
        """Pin to the first healthy endpoint (preference order); keep the current one if none is."""
        for endpoint in self.endpoints:
            if self.healthy(endpoint):
                if endpoint != self.current:
                    log.info("re-pinned region", extra={"from": self.current, "to": endpoint})
                    self.repins += 1
                self.current = endpoint
                break
        return self.current

    async def arepin(self) -> str:
        return await asyncio.to_thread(self.repin)


# ------------------------------------------------------------------------------------ REST
class TulipClient:
    """Synchronous REST client. Every call is bounded: `retries` attempts, each `timeout_s`."""

    def __init__(self, endpoints: Sequence[str] | str, token: str, retries: int = 4,
                 timeout_s: float = 5.0, backoff: Backoff | None = None,
                 rng: random.Random | None = None) -> None:
        self.regions = RegionPicker([endpoints] if isinstance(endpoints, str) else endpoints)
        self.token = token
        self.retries = max(1, retries)
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self.http = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TulipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return self.regions.current

    def request(self, method: str, path: str, *, json_body: Any = None,
                params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> Any:
        """One logical call: identical bytes on every attempt (same idempotency key)."""
        last_error: Exception | None = None
        for attempt in range(self.retries):
            if attempt:
                time.sleep(self.backoff.delay(attempt - 1, self.rng))
            try:
                response = self.http.request(
                    method, f"{self.base_url}{path}", json=json_body, params=params,
                    headers={"Authorization": f"Bearer {self.token}", **(headers or {})})
            except httpx.TransportError as exc:
                last_error = exc
                self.regions.repin()  # the region may be gone: move to a healthy one
                continue
            if response.status_code in RETRY_STATUSES:
                last_error = ApiError(response.status_code, _json(response))
                if response.status_code == 503:
                    self.regions.repin()
                continue
            if response.status_code >= 400:
                raise ApiError(response.status_code, _json(response))
            return _json(response)
        if isinstance(last_error, ApiError):
            raise last_error
        raise ApiError(0, {"error": {"code": "unavailable", "message": str(last_error)}})

    def place_order(self, side: str, qty: int, price: str, symbol: str | None = None,
                    time_in_force: str = "GTC", post_only: bool = False,
                    idempotency_key: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"side": side, "qty": qty, "price": price,
                                "timeInForce": time_in_force, "postOnly": post_only,
                                "idempotencyKey": idempotency_key or f"py-{uuid.uuid4().hex}"}
        if symbol:
            body["symbol"] = symbol
        order: dict[str, Any] = self.request("POST", "/order", json_body=body)
        return order

    def cancel(self, order_id: str) -> dict[str, Any]:
        order: dict[str, Any] = self.request("POST", "/cancel", json_body={"orderId": order_id})
        return order

    def book(self, symbol: str | None = None, depth: int = 5) -> dict[str, Any]:
        params: dict[str, Any] = {"depth": depth, **({"symbol": symbol} if symbol else {})}
        book: dict[str, Any] = self.request("GET", "/book", params=params)
        return book

    def open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        params = {"status": "open", **({"symbol": symbol} if symbol else {})}
        page: dict[str, Any] = self.request("GET", "/orders", params=params)
        return list(page["items"])

    def events(self, symbol: str, from_seq: int, limit: int = 1000) -> dict[str, Any]:
        page: dict[str, Any] = self.request("GET", "/events", params={
            "symbol": symbol, "fromSeq": from_seq, "limit": limit})
        return page


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"error": {"code": "internal", "message": response.text[:200]}}


# ------------------------------------------------------------------------------------ stream
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
    """Async stream of design §5 messages, gap-free per market topic.

    Iterate with `async for message in stream`. Delivered messages: `snapshot`, `book`, `trade`,
    `orderStatus` (and `heartbeat` when `deliver_heartbeats`). A resync replays the missing
    messages (from `GET /events`) before the one that revealed the gap, or — for a book whose
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
            except _Fatal:
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
                raise _Fatal("token rejected (4401)")
            if ws.close_code == CLOSE_SLOW_CONSUMER:
                # Dropped for being slow: the socket is not a good idea right now (design §5).
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

    async def _replay(self, symbol: str, after: int, before: int, topic: str,
                      seed: dict[str, int] | None) -> list[Message]:
        events: list[dict[str, Any]] = []
        cursor = after
        while cursor < before - 1 and len(events) < self.max_resync_events:
            response = await self._http.get(f"{self.client.base_url}/events", params={
                "symbol": symbol, "fromSeq": cursor, "limit": 1000},
                headers={"Authorization": f"Bearer {self.client.token}"})
            response.raise_for_status()
            items = response.json()["items"]
            if not items:
                break
            events.extend({"seq": e["seq"], "type": e["type"], "symbol": e["symbol"],
                           "ts": e.get("ts"), "payload": e} for e in items)
            cursor = int(items[-1]["seq"])
        self.stats.resyncs += 1
        return [m for m in messages_for_events(symbol, events, seed)
                if m["topic"] == topic and after < m["seq"] < before]

    async def _resync_trades(self, topic: str, last: int, before: int) -> None:
        symbol = topic.partition(":")[2]
        for message in await self._replay(symbol, last, before, topic, {topic: last}):
            self.last_seq[topic] = int(message["seq"])
            await self._deliver(message)

    async def _resync_book(self, topic: str, last: int, before: int, prev: int) -> bool:
        """Replay missing deltas from /events (the last book seq is a command boundary, so the
        replay is exact); if that cannot close the gap, take a fresh snapshot instead.
        True if the delta that revealed the gap (seq `before`) still applies on top."""
        symbol = topic.partition(":")[2]
        try:
            replay = await self._replay(symbol, last, before, topic, None)
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


class _Fatal(Exception):
    """Retrying cannot help (the token was rejected)."""
