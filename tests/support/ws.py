"""Helpers for the realtime integration tests: raw WebSocket clients and the real publisher."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from realtime.publisher import ChannelsPublisher
from tests.support.stack import StackHandle
from tulip.config import load_config


def ws_url(stack: StackHandle, token: str) -> str:
    return stack.url.replace("http://", "ws://") + "/ws?token=" + token


async def connect(stack: StackHandle, token: str, **kwargs: Any) -> ClientConnection:
    return await websockets.connect(ws_url(stack, token), open_timeout=10, **kwargs)


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    message: dict[str, Any] = json.loads(raw)
    return message


async def recv_until(ws: ClientConnection, predicate: Callable[[dict[str, Any]], bool],
                     timeout: float = 5.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the first message matching, everything received before it)."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no matching message; saw {seen[-5:]}")
        message = await recv_json(ws, remaining)
        if predicate(message):
            return message, seen
        seen.append(message)


async def subscribe(ws: ClientConnection, *topics: str) -> list[dict[str, Any]]:
    """Subscribe and return the subscribed (+ snapshot) replies."""
    await ws.send(json.dumps({"op": "subscribe", "topics": list(topics)}))
    replies: list[dict[str, Any]] = []
    expected = len(topics) + sum(1 for t in topics if t.startswith("book"))
    while len(replies) < expected:
        message = await recv_json(ws, 10)
        if message["type"] in ("subscribed", "snapshot"):
            replies.append(message)
    return replies


def make_publisher(stack: StackHandle) -> ChannelsPublisher:
    return ChannelsPublisher(stack.env["REDIS_URL"], stack.env["REDIS_KEY_PREFIX"],
                             load_config(stack.env))


def trade(symbol: str, seq: int, prev: int | None, **extra: Any) -> dict[str, Any]:
    return {"type": "trade", "topic": f"trades:{symbol}", "seq": seq, "prevSeq": prev,
            "tradeId": f"{symbol}-{seq:012d}", "price": "100.00", "qty": 1, "takerSide": "BUY",
            "ts": "2026-01-01T00:00:00.000Z", **extra}


def synthetic_events(symbol: str, start_seq: int, commands: int, client_ids: tuple[str, str] = (
        "maker-client", "taker-client")) -> list[dict[str, Any]]:
    """Stored events shaped like the matcher's (docs/storage.md): alternating commands that rest
    an order (OrderOpened) and that trade against it (TradeExecuted), l2 on each command's last."""
    events: list[dict[str, Any]] = []
    seq = start_seq
    for n in range(commands):
        ts = "2026-01-01T00:00:00.000Z"
        if n % 2 == 0:
            events.append({"seq": seq, "symbol": symbol, "type": "OrderOpened", "ts": ts, "payload": {
                "orderId": f"o{seq}", "clientId": client_ids[0], "side": "SELL", "price": "100.00",
                "qty": 1, "remaining": 1, "filled": 0,
                "l2": {"bids": [], "asks": [["100.00", 1, 1]]}}})
        else:
            events.append({"seq": seq, "symbol": symbol, "type": "TradeExecuted", "ts": ts, "payload": {
                "tradeId": f"{symbol}-{seq:012d}", "price": "100.00", "qty": 1, "takerSide": "BUY",
                "makerOrderId": f"o{seq - 1}", "makerClientId": client_ids[0], "makerRemaining": 0,
                "makerFilled": 1, "takerOrderId": f"t{seq}", "takerClientId": client_ids[1],
                "takerRemaining": 0, "takerFilled": 1, "buyOrderId": f"t{seq}",
                "sellOrderId": f"o{seq - 1}", "l2": {"bids": [], "asks": [["100.00", 0, 0]]}}})
        seq += 1
    return events


def publish_events(publisher: ChannelsPublisher, symbol: str, events: list[dict[str, Any]],
                   last_seqs: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """What tulip/bootstrap.py's fan-out does after a commit: messages_for_events -> groups."""
    from realtime.messages import group_for, messages_for_events

    messages = messages_for_events(symbol, events, last_seqs)
    by_group: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        by_group.setdefault(group_for(message), []).append(message)
    for group, batch in by_group.items():
        publisher.publish(group, batch)
    return messages


class RawWebSocket:
    """A minimal blocking WebSocket client over a plain socket with a tiny receive buffer, for
    the slow-consumer test: client libraries read ahead into memory, this one reads nothing
    until asked, so the server sees real TCP backpressure."""

    def __init__(self, stack: StackHandle, token: str, rcvbuf: int = 4096) -> None:
        import base64
        import os
        import socket
        from urllib.parse import urlparse

        url = urlparse(stack.url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((url.hostname, url.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("handshake failed")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def send_json(self, message: dict[str, Any]) -> None:
        import os
        import struct

        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed without a close frame")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def frames(self) -> Any:
        """Yield (opcode, payload) until the server's close frame (inclusive)."""
        import struct

        while True:
            b0, b1 = self._read(2)
            length = b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            payload = self._read(length)
            yield b0 & 0x0F, payload
            if b0 & 0x0F == 0x8:
                return

    def close(self) -> None:
        self.sock.close()


def store_events(stack: StackHandle, events: list[dict[str, Any]]) -> None:
    """Write events as event pages (docs/storage.md, matching/event_pages.py) and advance the
    shard's lastSeq, so /events, /poll and subscription baselines see them. One page per command
    (a command's last event carries its L2 delta), so reads cross many page boundaries; the
    matcher writes one per batch."""
    from tulip import event_pages

    ddb = stack.boto("dynamodb")
    table = stack.env["TRADES_TABLE"]
    command: list[dict[str, Any]] = []
    for event in events:
        command.append(event)
        if "l2" in event["payload"] or event is events[-1]:
            for item in event_pages.page_items(event["symbol"], 0, command):
                ddb.put_item(TableName=table, Item=item)
            command = []
    if events:
        symbol = events[-1]["symbol"]
        ddb.put_item(TableName=table, Item={
            "pk": {"S": f"SHARD#{symbol}"}, "sk": {"S": f"SHARD#{symbol}"},
            "lastSeq": {"N": str(events[-1]["seq"])}, "epoch": {"N": "1"}})


def commit_and_publish(stack: StackHandle, publisher: ChannelsPublisher, symbol: str,
                       events: list[dict[str, Any]], skip_seqs: frozenset[int] = frozenset()
                       ) -> list[dict[str, Any]]:
    """Durable first, then publish (docs/rules.md); `skip_seqs` drops those messages in flight."""
    from realtime.messages import group_for, messages_for_events

    store_events(stack, events)
    messages = messages_for_events(symbol, events)
    by_group: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        if message["seq"] in skip_seqs and message["type"] != "orderStatus":
            continue
        by_group.setdefault(group_for(message), []).append(message)
    for group, batch in by_group.items():
        publisher.publish(group, batch)
    return messages
