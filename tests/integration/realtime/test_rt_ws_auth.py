"""/ws refuses a missing, forged or expired token with close code 4401 (verified like REST)."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support import ws as rt_ws
from tests.support.stack import StackHandle


async def _close_code(stack: StackHandle, token: str) -> tuple[int | None, dict[str, object]]:
    ws = await rt_ws.connect(stack, token)
    first = await rt_ws.recv_json(ws)
    with pytest.raises(ConnectionClosed):
        await rt_ws.recv_json(ws)
    return ws.close_code, first


@pytest.mark.parametrize("kind", ["missing", "garbage", "expired", "wrong_issuer", "id_token"])
def test_bad_token_closes_4401(rt_stack: StackHandle, kind: str) -> None:
    now = int(time.time())
    token = {
        "missing": "",
        "garbage": "not-a-jwt",
        "expired": rt_stack.forge_token(iat=now - 7200, exp=now - 3600),
        "wrong_issuer": rt_stack.forge_token(iss="https://evil.example/pool"),
        "id_token": rt_stack.forge_token(token_use="id"),
    }[kind]
    code, first = asyncio.run(_close_code(rt_stack, token))
    assert code == 4401
    assert first["type"] == "error" and first["code"] == "unauthorized"


def test_good_token_is_accepted_and_answers_ping(rt_stack: StackHandle) -> None:
    async def run() -> dict[str, object]:
        ws = await rt_ws.connect(rt_stack, rt_stack.token("alice"))
        await ws.send('{"op":"ping"}')
        pong, _ = await rt_ws.recv_until(ws, lambda m: m["type"] == "pong")
        await ws.close()
        return pong

    assert asyncio.run(run())["type"] == "pong"
