"""The matcher's wire format: the commands on the events FIFO queue, shared by every producer
(order entry, the sweeper, ops' compensations) and the matcher that consumes them.

Raw JSON bodies, not Celery envelopes, so any producer can enqueue and the matcher reads them
with plain boto3. Documented in docs/messages.md; `schemaVersion` lets a consumer refuse what it
does not understand. Pure: stdlib only."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Final

SCHEMA_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    orderId: str
    clientId: str
    symbol: str
    side: str
    qty: int
    price: str
    timeInForce: str
    postOnly: bool
    idempotencyKey: str
    acceptedAt: str
    type: str = "OrderAccepted"
    schemaVersion: int = SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class CancelRequested:
    orderId: str
    clientId: str
    symbol: str
    requestedAt: str
    type: str = "CancelRequested"
    schemaVersion: int = SCHEMA_VERSION


Message = OrderAccepted | CancelRequested


def encode(message: Message) -> str:
    return json.dumps(asdict(message), separators=(",", ":"), sort_keys=True)


class UnknownMessage(ValueError):
    """Unparseable, unknown type or unknown schemaVersion: a poison message for the DLQ."""


def decode(body: str) -> Message:
    try:
        data: Any = json.loads(body)
    except (TypeError, ValueError):
        raise UnknownMessage("not JSON") from None
    if not isinstance(data, dict) or data.get("schemaVersion") != SCHEMA_VERSION:
        raise UnknownMessage("unknown schemaVersion")
    kind = {"OrderAccepted": OrderAccepted, "CancelRequested": CancelRequested}.get(
        str(data.get("type")))
    if kind is None:
        raise UnknownMessage(f"unknown type {data.get('type')!r}")
    try:
        message: Message = kind(**data)
    except TypeError:
        raise UnknownMessage("fields do not match the schema") from None
    return message


def group_id(symbol: str) -> str:
    """One FIFO group per symbol: strict order within a market, parallelism across markets."""
    return f"market-{symbol}"


def dedupe_id(message: Message) -> str:
    """SQS MessageDeduplicationId: an accept dedupes on the IK (docs/rules.md, idempotency), a
    cancel on its order id, so retried cancels collapse too."""
    if isinstance(message, OrderAccepted):
        return message.idempotencyKey
    return hashlib.sha256(f"cancel:{message.orderId}".encode()).hexdigest()
