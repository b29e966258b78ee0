"""Dependency probes for /readyz: each answers ok/error with its latency, never raises."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from django.db import connection

from tulip import aws
from tulip.config import Config

# DynamoDB and SQS are the order path: without either, no order can be accepted, so not ready.
# Redis and the ops database only degrade (book cache, fan-out, admin), so they are reported only.
REQUIRED = ("dynamodb", "sqs")


def _timed(probe: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # a probe reports, it never raises
        return {"ok": False, "error": type(exc).__name__,
                "latencyMs": round((time.perf_counter() - started) * 1000, 1)}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 1)}


def readiness(cfg: Config) -> tuple[bool, dict[str, Any]]:
    def dynamodb() -> None:
        aws.client("dynamodb", cfg, "probe").describe_table(TableName=cfg.orders_table)

    def sqs() -> None:
        if not cfg.events_fifo_url:
            raise RuntimeError("EVENTS_FIFO_URL not configured")
        for symbol in cfg.symbols:  # every symbol's own queue: a missing one is not ready
            aws.client("sqs", cfg, "probe").get_queue_attributes(
                QueueUrl=cfg.events_queue_url(symbol), AttributeNames=["QueueArn"])

    def redis_probe() -> None:
        redis.Redis.from_url(cfg.redis_url, socket_timeout=1, socket_connect_timeout=1).ping()

    def database() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    checks = {
        "dynamodb": _timed(dynamodb),
        "sqs": _timed(sqs),
        "redis": _timed(redis_probe),
        "database": _timed(database),
    }
    ready = all(checks[name]["ok"] for name in REQUIRED)
    return ready, checks
