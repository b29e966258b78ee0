"""Messages order entry puts on the events FIFO queue (raw JSON bodies, not Celery envelopes, so
any producer can enqueue and the matcher reads them with plain boto3). Documented in
docs/messages.md; `schemaVersion` lets a consumer refuse what it does not understand."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final

SCHEMA_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    orderId: str  # noqa: N815 - wire names are the contract's camelCase
    clientId: str  # noqa: N815
    symbol: str
    side: str
    qty: int
    price: str
    timeInForce: str  # noqa: N815
    postOnly: bool  # noqa: N815
    idempotencyKey: str  # noqa: N815 - the IK hash, never the client's raw key
    acceptedAt: str  # noqa: N815
    type: str = "OrderAccepted"
    schemaVersion: int = SCHEMA_VERSION  # noqa: N815


@dataclass(frozen=True, slots=True)
class CancelRequested:
    orderId: str  # noqa: N815
    clientId: str  # noqa: N815
    symbol: str
    requestedAt: str  # noqa: N815
    type: str = "CancelRequested"
    schemaVersion: int = SCHEMA_VERSION  # noqa: N815


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
        return kind(**data)
    except TypeError:
        raise UnknownMessage("fields do not match the schema") from None


def group_id(symbol: str) -> str:
    """One FIFO group per symbol: strict order within a market, parallelism across markets."""
    return f"market-{symbol}"
