"""Channels auth: browsers cannot set headers on a WebSocket, so the token rides in `?token=`.
It is verified exactly like REST; the consumer closes with 4401 when it is missing or bad."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from tulip.auth import TokenRejected, verify_token


class QueryTokenAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        scope = dict(scope, principal=None, auth_error="Authentication is required: ?token=<JWT>.")
        if token:
            try:
                # JWKS fetches are blocking I/O (cached after the first); keep them off the loop.
                scope["principal"] = await database_sync_to_async(verify_token)(token)
                scope["auth_error"] = None
            except TokenRejected as exc:
                scope["auth_error"] = str(exc)
        return await self.inner(scope, receive, send)
