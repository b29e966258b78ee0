"""A follower's writes go to the leader (docs/architecture.md, "Regions"): POST /order and POST
/cancel are forwarded with the caller's token, idempotency key and correlation id, and the
leader's answer (status, body, its X-Tulip-Region) is returned as it is. A leader that cannot be
reached (down, or cut off by a partition drill) is a 503 `unavailable` naming it, unless the
acceptWhenLeaderDown flag lets this region take the order itself, provisionally."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from rest_framework.request import Request
from rest_framework.response import Response

from orders import services
from tulip import drills
from tulip.config import Config
from tulip.context import current_correlation_id
from tulip.errors import Unavailable

log = logging.getLogger("orders.forwarding")

# Connect fast (a dead leader must not hold the caller), read at the leader's own pace.
TIMEOUT = httpx.Timeout(10.0, connect=1.0)
FORWARDED_HEADERS = ("Authorization", "Idempotency-Key", "Content-Type")
_client = httpx.Client(timeout=TIMEOUT, limits=httpx.Limits(max_keepalive_connections=20))


class LeaderUnreachable(Exception):
    pass


def through_leader(cfg: Config, request: Request, path: str,
                   provisional_ok: bool) -> tuple[Response | None, bool]:
    """(the leader's answer, or None when this region takes the write) and whether this region
    takes it provisionally."""
    route = services.write_route(cfg)
    if route.local:
        return None, False
    try:
        return forward(cfg, route, request, path), False
    except LeaderUnreachable:
        if provisional_ok and services.accepts_provisional(cfg):
            log.warning("leader unreachable: accepting provisionally",
                        extra={"leaderRegion": route.leader_region})
            return None, True
        raise Unavailable("The leader region cannot be reached; retry with the same key.",
                          {"leaderRegion": route.leader_region}) from None


def forward(cfg: Config, route: services.WriteRoute, request: Request, path: str) -> Response:
    if route.leader_url is None or drills.partitioned(cfg, cfg.aws_region, route.leader_region):
        raise LeaderUnreachable(route.leader_region)
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    headers["X-Request-Id"] = current_correlation_id() or ""
    try:
        answer = _client.post(f"{route.leader_url}{path}", content=request.body, headers=headers)
    except httpx.HTTPError:
        raise LeaderUnreachable(route.leader_region) from None
    try:
        body: Any = answer.json()
    except json.JSONDecodeError:
        raise LeaderUnreachable(route.leader_region) from None  # not our API answering
    response = Response(body, status=answer.status_code)
    response["X-Tulip-Region"] = answer.headers.get("X-Tulip-Region", route.leader_region)
    return response
