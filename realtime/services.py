"""Realtime logic the thin consumer and views call: topic parsing, per-connection session state,
the bounded outbox, snapshots, event pages and the long-poll. Reads only (docs/architecture.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from orders import selectors
from realtime import storage
from realtime.messages import (
    ORDER_STATUS_TOPIC,
    Message,
    book_topic,
    messages_for_events,
    public_event,
    trades_topic,
)
from tulip import aws
from tulip.clock import now_iso
from tulip.config import Config
from tulip.errors import Unauthorized, Unavailable, ValidationFailed
from tulip.params import int_param

log = logging.getLogger("realtime.services")

SNAPSHOT_DEPTH = 5
POLL_MAX_TIMEOUT_S = 25.0
POLL_INTERVAL_S = 0.25
POLL_PAGE = 500
MAX_TOPICS = 16
SLOW_CONSUMER_GRACE_S = 1.0


def heartbeat_interval_s() -> float:
    """5 s by default (docs/api.md); tests shorten it (WS_HEARTBEAT_S)."""
    return _env_float("WS_HEARTBEAT_S", 5.0, 0.05, 300.0)


def send_queue_max() -> int:
    """Messages one connection may have waiting for its socket before it is dropped (4008)."""
    return int(_env_float("WS_SEND_QUEUE_MAX", 1000, 1, 100_000))


def _env_float(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return min(max(value, low), high)


# ------------------------------------------------------------------------------------ topics
class TopicError(ValueError):
    """A topic the contract does not know. The message is safe to show."""


@dataclass(frozen=True, slots=True)
class Topic:
    name: str  # canonical: "trades:TULIP", "book:TULIP", "orderStatus"
    kind: str  # trades | book | orderStatus
    symbol: str | None

    def group(self, client_id: str) -> str:
        if self.kind == ORDER_STATUS_TOPIC:
            return f"orders.{client_id}"
        return f"{self.kind}.{self.symbol}"


def parse_topic(cfg: Config, raw: object) -> Topic:
    if not isinstance(raw, str) or not raw or len(raw) > 64:
        raise TopicError("A topic is a string such as 'trades:TULIP', 'book:TULIP' or 'orderStatus'.")
    if raw == ORDER_STATUS_TOPIC:
        return Topic(ORDER_STATUS_TOPIC, ORDER_STATUS_TOPIC, None)
    kind, _, symbol = raw.partition(":")
    if kind not in ("trades", "book"):
        raise TopicError(f"Unknown topic {raw!r}; expected trades:<symbol>, book:<symbol> or orderStatus.")
    symbol = symbol or cfg.default_symbol  # a bare `trades`/`book` means the default symbol
    if symbol not in cfg.symbols:
        raise TopicError(f"Unknown symbol {symbol!r}; expected one of {', '.join(cfg.symbols)}.")
    return Topic(f"{kind}:{symbol}", kind, symbol)


def parse_topics(cfg: Config, raw: object) -> list[Topic]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_TOPICS:
        raise TopicError(f"'topics' must be a list of 1..{MAX_TOPICS} topics.")
    topics: list[Topic] = []
    for item in raw:
        topic = parse_topic(cfg, item)
        if topic not in topics:
            topics.append(topic)
    return topics


# ------------------------------------------------------------------------------------ session
class Outbox:
    """The bounded per-connection send queue of encoded messages (frame texts). A full queue
    gets SLOW_CONSUMER_GRACE_S for the writer to make room: messages arrive in batches
    (realtime/publisher.py), and a client reading at full speed must not be dropped because one
    batch outgrew its queue for a moment. A queue still full after that means the client cannot
    keep up, and the caller drops the connection (4008) instead of buffering more."""

    def __init__(self, limit: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=max(1, limit))

    async def offer(self, text: str) -> bool:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            try:
                await asyncio.wait_for(self.queue.put(text), SLOW_CONSUMER_GRACE_S)
            except TimeoutError:
                return False
        return True

    async def take(self) -> str:
        return await self.queue.get()


@dataclass
class Session:
    """What one socket is subscribed to and the last seq it was sent per topic."""

    client_id: str
    topics: dict[str, Topic] = field(default_factory=dict)
    last_seq: dict[str, int | None] = field(default_factory=dict)

    def subscribe(self, topic: Topic, baseline: int | None) -> None:
        self.topics[topic.name] = topic
        self.last_seq[topic.name] = baseline

    def unsubscribe(self, topic: Topic) -> bool:
        self.last_seq.pop(topic.name, None)
        return self.topics.pop(topic.name, None) is not None

    def groups(self) -> set[str]:
        return {topic.group(self.client_id) for topic in self.topics.values()}

    def admit(self, message: Mapping[str, Any]) -> bool:
        """Should a published message go to this socket? Drops other topics, other clients'
        orders (defence in depth: the group is already per client), and repeats of what was
        already sent or already covered by the snapshot (publishing is at-least-once)."""
        topic = message.get("topic")
        if not isinstance(topic, str) or topic not in self.topics:
            return False
        if message.get("type") == "orderStatus":
            order = message.get("order")
            if not isinstance(order, dict) or order.get("clientId") != self.client_id:
                return False
        seq = message.get("seq")
        last = self.last_seq.get(topic)
        # orderStatus: one event may update several of the caller's orders (same seq).
        if isinstance(seq, int) and last is not None and (
                seq < last or (seq == last and topic != ORDER_STATUS_TOPIC)):
            return False
        if isinstance(seq, int):
            self.last_seq[topic] = seq if last is None else max(seq, last)
        return True

    def heartbeat(self) -> Message:
        return {"type": "heartbeat", "topic": None, "seqs": dict(self.last_seq), "ts": now_iso()}


# ------------------------------------------------------------------------------------ reads
def book_snapshot(cfg: Config, symbol: str) -> Message:
    """The `snapshot` message: Redis (what the matcher published), else DynamoDB."""
    snapshot = selectors.current_book(cfg, symbol)
    return {"type": "snapshot", "topic": book_topic(symbol), "seq": int(snapshot.get("seq") or 0),
            "bids": list(snapshot.get("bids") or [])[:SNAPSHOT_DEPTH],
            "asks": list(snapshot.get("asks") or [])[:SNAPSHOT_DEPTH],
            "ts": snapshot.get("ts")}


def last_trade_seq(cfg: Config, symbol: str) -> int:
    """Baseline of a fresh `trades:<s>` subscription (sent in `subscribed` as `seq`)."""
    head = storage.shard_last_seq(symbol)
    return storage.last_trade_seq_before(symbol, head + 1) if head else 0


def _symbol(cfg: Config, value: str | None) -> str:
    if not value:
        return cfg.default_symbol
    if value not in cfg.symbols:
        raise ValidationFailed("Unknown symbol.", {"symbol": [f"must be one of {', '.join(cfg.symbols)}"]})
    return value


def events_page(cfg: Config, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /events: public events after fromSeq (gap recovery), `{items, nextCursor}`."""
    symbol = _symbol(cfg, params.get("symbol"))
    cursor = params.get("cursor")
    from_seq = int_param("fromSeq", cursor or params.get("fromSeq"), 0, 0, 2**62)
    limit = int_param("limit", params.get("limit"), 100, 1, storage.MAX_PAGE)
    events = storage.read_events(symbol, from_seq, limit)
    items = [public_event(e) for e in events]
    return {"items": items, "nextCursor": str(items[-1]["seq"]) if len(items) == limit else None}


@dataclass(frozen=True, slots=True)
class PollRequest:
    symbol: str
    topics: tuple[Topic, ...]
    from_seq: int
    timeout_s: float


def parse_poll(cfg: Config, params: Mapping[str, str]) -> PollRequest:
    raw_topics = [t for t in (params.get("topics") or "").split(",") if t]
    try:
        topics = parse_topics(cfg, raw_topics)
    except TopicError as exc:
        raise ValidationFailed(str(exc), {"topics": [str(exc)]}) from None
    symbols = {t.symbol for t in topics if t.symbol}
    if len(symbols) > 1:
        raise ValidationFailed("One symbol per poll.", {"topics": ["all topics must share a symbol"]})
    symbol = symbols.pop() if symbols else _symbol(cfg, params.get("symbol"))
    from_seq = int_param("fromSeq", params.get("fromSeq"), None, 0, 2**62)
    timeout = params.get("timeoutS") or "25"
    try:
        timeout_s = float(timeout)
    except ValueError:
        raise ValidationFailed("timeoutS must be a number.", {"timeoutS": ["must be a number"]}) from None
    if not 0 <= timeout_s <= POLL_MAX_TIMEOUT_S:
        raise ValidationFailed("timeoutS is out of range.", {"timeoutS": ["must be 0..25"]})
    return PollRequest(symbol, tuple(topics), from_seq, timeout_s)


def poll_once(cfg: Config, client_id: str, request: PollRequest) -> tuple[list[Message], int]:
    """The messages the socket would have sent after request.from_seq for these topics, and the
    last seq examined (the client's next fromSeq). One bounded page of events."""
    events = storage.read_events(request.symbol, request.from_seq, POLL_PAGE)
    if not events:
        return [], request.from_seq
    # The first page may start inside a command: prepend its head so the book delta's prevSeq
    # and the trade chain are exactly what the socket carried.
    head = storage.command_head(request.symbol, request.from_seq)
    window = head + events
    last_seqs = {trades_topic(request.symbol): storage.last_trade_seq_before(
        request.symbol, int(window[0]["seq"]))}
    wanted = {t.name for t in request.topics}
    out = [m for m in messages_for_events(request.symbol, window, last_seqs)
           if m["seq"] > request.from_seq and m["topic"] in wanted
           and (m["type"] != "orderStatus" or m["order"].get("clientId") == client_id)]
    return out, int(events[-1]["seq"])


async def long_poll(cfg: Config, client_id: str, request: PollRequest) -> dict[str, Any]:
    """Answer as soon as a message exists, else after timeoutS. DynamoDB is the source (committed
    events only), checked every POLL_INTERVAL_S; the loop is bounded by the deadline."""
    deadline = time.monotonic() + request.timeout_s
    cursor = request.from_seq
    while True:
        step = PollRequest(request.symbol, request.topics, cursor, request.timeout_s)
        messages, cursor = await sync_to_async(poll_once, thread_sensitive=False)(cfg, client_id, step)
        remaining = deadline - time.monotonic()
        if messages or remaining <= 0:
            return {"items": messages, "lastSeq": cursor, "nextCursor": str(cursor)}
        await asyncio.sleep(min(POLL_INTERVAL_S, remaining))


# ------------------------------------------------------------------------------------ login
def cognito_login(cfg: Config, username: str, password: str) -> dict[str, Any]:
    """USER_PASSWORD_AUTH against the configured pool (what the web page's sign-in form uses).
    Raises Unauthorized on bad credentials; never echoes Cognito's text."""
    client = aws.client("cognito-idp", cfg, region=cfg.cognito_region)
    try:
        result = client.initiate_auth(ClientId=cfg.cognito_app_client_id,
                                      AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": username, "PASSWORD": password})
    except client.exceptions.NotAuthorizedException:
        raise Unauthorized("Wrong user name or password.") from None
    except client.exceptions.UserNotFoundException:
        raise Unauthorized("Wrong user name or password.") from None
    except Exception:
        log.exception("cognito login failed")
        raise Unavailable("Sign-in is unavailable; retry shortly.") from None
    auth = result.get("AuthenticationResult") or {}
    if "AccessToken" not in auth:
        raise Unauthorized("This account needs a challenge the page does not support.")
    return {"accessToken": auth["AccessToken"], "expiresIn": auth.get("ExpiresIn"),
            "tokenType": "Bearer", "username": username}

