"""The `/ws` endpoint (design §5). Thin: authentication outcome comes from the scope."""

from __future__ import annotations

import time
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

CLOSE_UNAUTHORIZED = 4401


class StreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        if self.scope.get("principal") is None:
            # Accept first so the close code reaches the browser (a refused handshake shows 1006).
            await self.accept()
            await self.send_json({"type": "error", "topic": None, "code": "unauthorized",
                                  "message": self.scope.get("auth_error")})
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        op = content.get("op") if isinstance(content, dict) else None
        if op == "ping":
            await self.send_json({"type": "pong", "topic": None, "ts": int(time.time() * 1000)})
            return
        await self.send_json({"type": "error", "topic": None, "code": "validation_error",
                              "message": "Unknown op; expected subscribe, unsubscribe or ping."})
