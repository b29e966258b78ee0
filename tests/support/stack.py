"""Test-side handle on a running local stack: URLs, tokens, boto3 clients, an HTTP client."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from moto.utilities.utils import load_resource

from devstack.launcher import LocalStack, StackOptions


@dataclass
class StackHandle:
    stack: LocalStack

    @property
    def url(self) -> str:
        return self.stack.http_url

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

    def boto(self, service: str) -> Any:
        return self.stack.boto(service)

    @property
    def symbols(self) -> list[str]:
        return self.env["TULIP_SYMBOLS"].split(",")

    def queue_url(self, symbol: str) -> str:
        """The symbol's own events FIFO queue (one per shard)."""
        return self.env["EVENTS_FIFO_URL"].replace("{symbol}", symbol)

    def token(self, username: str) -> str:
        return self.stack.token(username)

    def http(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def forge_token(self, **overrides: Any) -> str:
        """A token signed with the local pool's own key but with chosen claims (expired, wrong
        issuer, id token...): only the claim under test is wrong, the signature is valid."""
        cfg = self.stack.config
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{cfg['COGNITO_USER_POOL_ID']}",
            "sub": "00000000-0000-4000-8000-000000000001",
            "client_id": cfg["COGNITO_APP_CLIENT_ID"],
            "token_use": "access",
            "iat": now,
            "exp": now + 600,
            "username": "forged",
            "cognito:groups": ["traders"],
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        key = jwt.algorithms.RSAAlgorithm.from_jwk(
            json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})  # type: ignore[arg-type]

    def stop(self) -> None:
        self.stack.stop()


def start_stack(state_dir: Path, with_worker: bool = True, supervise: bool = False,
                **options: Any) -> StackHandle:
    """A stack of real processes; `supervise` restarts children that die (as `make run` does)."""
    stack = LocalStack(StackOptions(state_dir=state_dir, environment="test",
                                    with_worker=with_worker, **options))
    stack.start()
    if supervise:
        stack.supervise()
    return StackHandle(stack)
