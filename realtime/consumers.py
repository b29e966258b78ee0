"""The `/ws` endpoint (docs/api.md). Thin: protocol handling only; state and rules live in
realtime/services.py. Every outgoing message goes through one bounded outbox drained by one
writer task, so ordering is preserved and a client that cannot keep up is dropped (4008)
instead of being buffered without bound."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, cast

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from realtime import services
from realtime.messages import encode
from tulip import metrics
from tulip.clock import now_iso

if TYPE_CHECKING:
    from tulip.auth import Principal

log = logging.getLogger("realtime.consumers")

CLOSE_UNAUTHORIZED = 4401
CLOSE_SLOW_CONSUMER = 4008


class StreamConsumer(AsyncJsonWebsocketConsumer):
    session: services.Session | None = None
    outbox: services.Outbox | None = None
    tasks: tuple[asyncio.Task[None], ...] = ()
    closing = False
    close_reason = "client"

    async def connect(self) -> None:
        # tulip.ws_auth put it there; the scope's type (a TypedDict) does not know the key.
        principal = cast("Principal | None", self.scope.get("principal"))
        if principal is None:
            # Accept first so the close code reaches the browser (a refused handshake shows 1006).
            await self.accept()
            await self.send_json({"type": "error", "topic": None, "code": "unauthorized",
                                  "message": self.scope.get("auth_error")})
            await self.close(code=CLOSE_UNAUTHORIZED)
            metrics.WS_DISCONNECTS.labels("unauthorized").inc()
            return
        await self.accept()
        metrics.WS_CONNECTS.inc()
        self.session = services.Session(principal.client_id)
        self.outbox = services.Outbox(services.send_queue_max())
        self.tasks = (asyncio.create_task(self._writer()), asyncio.create_task(self._heartbeats()))

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own dispatch first closes stale Django database connections on a worker
        thread, for every message a consumer receives: a thread hop per message per socket,
        which cost this consumer more than its sending (docs/benchmarks.md, "WebSocket fan-out
        benchmark"). This consumer never touches the Django database (its reads are DynamoDB and
        Redis), so it dispatches directly."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return encode(content)

    async def disconnect(self, code: int) -> None:
        for task in self.tasks:
            task.cancel()
        if self.session is not None:
            for group in self.session.groups():
                with contextlib.suppress(Exception):
                    await self.channel_layer.group_discard(group, self.channel_name)
            metrics.WS_DISCONNECTS.labels(self.close_reason).inc()
            self.session = None

    # ---------------------------------------------------------------- client -> server
    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.session is None:
            return
        op = content.get("op") if isinstance(content, dict) else None
        if op == "ping":
            await self._offer({"type": "pong", "topic": None, "ts": now_iso()})
        elif op in ("subscribe", "unsubscribe"):
            try:
                topics = services.parse_topics(settings.TULIP, content.get("topics"))
            except services.TopicError as exc:
                await self._offer({"type": "error", "topic": None, "code": "validation_error",
                                   "message": str(exc)})
                return
            for topic in topics:
                await (self._subscribe(topic) if op == "subscribe" else self._unsubscribe(topic))
        else:
            await self._offer({"type": "error", "topic": None, "code": "validation_error",
                               "message": "Unknown op; expected subscribe, unsubscribe or ping."})

    async def _subscribe(self, topic: services.Topic) -> None:
        assert self.session is not None
        # Join the group before reading the baseline: anything published meanwhile waits in our
        # channel and is filtered against the baseline (Session.admit), so nothing falls between.
        await self.channel_layer.group_add(topic.group(self.session.client_id), self.channel_name)
        cfg = settings.TULIP
        read = sync_to_async(thread_sensitive=False)
        if topic.kind == "book":
            assert topic.symbol is not None
            snapshot = await read(services.book_snapshot)(cfg, topic.symbol)
            self.session.subscribe(topic, snapshot["seq"])
            await self._offer({"type": "subscribed", "topic": topic.name, "seq": snapshot["seq"]})
            await self._offer(snapshot)
        elif topic.kind == "trades":
            assert topic.symbol is not None
            baseline = await read(services.last_trade_seq)(cfg, topic.symbol)
            self.session.subscribe(topic, baseline)
            await self._offer({"type": "subscribed", "topic": topic.name, "seq": baseline})
        else:
            self.session.subscribe(topic, None)
            await self._offer({"type": "subscribed", "topic": topic.name})

    async def _unsubscribe(self, topic: services.Topic) -> None:
        assert self.session is not None
        if self.session.unsubscribe(topic):
            await self.channel_layer.group_discard(topic.group(self.session.client_id),
                                                   self.channel_name)
        await self._offer({"type": "unsubscribed", "topic": topic.name})

    # ---------------------------------------------------------------- channel layer -> client
    async def tulip_publish(self, event: dict[str, Any]) -> None:
        """A batch of one group's messages in order, each with its encoded text
        (realtime/publisher.py); a lone `message` is what publishers before batching sent, which
        a rolling deploy can still have running beside this consumer for a while."""
        messages, texts = event.get("messages"), event.get("texts")
        if "message" in event:
            messages, texts = [event["message"]], [None]
        if self.session is None or not isinstance(messages, list) or not isinstance(texts, list):
            return
        for message, text in zip(messages, texts, strict=False):
            if isinstance(message, dict) and self.session.admit(message):
                await self._offer_text(text if isinstance(text, str) else encode(message))

    # ---------------------------------------------------------------- outbox
    async def _offer(self, message: dict[str, Any]) -> None:
        await self._offer_text(encode(message))

    async def _offer_text(self, text: str) -> None:
        if self.closing or self.outbox is None:
            return
        if not await self.outbox.offer(text):
            await self._drop_slow_consumer()

    async def _drop_slow_consumer(self) -> None:
        self.closing = True
        self.close_reason = "slow_consumer"
        log.info("dropping slow consumer", extra={"clientId": self.session and self.session.client_id})
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:  # the heartbeat task may be the one that found the queue full
                task.cancel()
        await self.close(code=CLOSE_SLOW_CONSUMER)

    async def _writer(self) -> None:
        assert self.outbox is not None
        try:
            while True:
                await self.send(text_data=await self.outbox.take())
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away under us; disconnect() cleans up
            log.debug("writer stopped", exc_info=True)

    async def _heartbeats(self) -> None:
        interval = services.heartbeat_interval_s()
        while self.session is not None and not self.closing:
            await asyncio.sleep(interval)
            if self.session is not None:
                await self._offer(self.session.heartbeat())
