"""A symbol's stored events cut back into the commands that made them (the committed command
order a reference replay follows): a place makes its trades as taker and then at most one event
of its own; a cancel makes exactly one event. Used by the seeded simulation's checks
(tests/sim/checks.py) and the chaos checker (tests/chaos/checker.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def command_key(event: dict[str, Any]) -> tuple[str, str]:
    """("place" | "cancel", the order id the command named)."""
    payload = event["payload"]
    if event["type"] == "TradeExecuted":
        return "place", str(payload["takerOrderId"])
    if event["type"] == "CancelRejected" or (
            event["type"] == "OrderCancelled" and payload["reason"] == "user"):
        return "cancel", str(payload["orderId"])
    return "place", str(payload["orderId"])


def command_groups(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    group: list[dict[str, Any]] = []
    for event in events:
        key = command_key(event)
        if group and (key != command_key(group[0]) or key[0] == "cancel"):
            yield group
            group = []
        group.append(event)
    if group:
        yield group
