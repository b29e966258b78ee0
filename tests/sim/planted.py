"""Planted bugs: each switches off one guard of the real code, to prove the simulation notices.

* `fence`: the fenced shard condition, `matching.storage.advance_shard`'s `epoch = mine AND
  lastSeq = expected` (docs/rules.md, fencing by epoch);
* `filled_qty`: the `filledQty = :expected` half of `OrderUpdate.render`'s condition (no double
  fills);
* `idempotency`: the `attribute_not_exists` on the IDEMP# record in order entry's transaction
  (`orders.storage.put_order_with_idempotency`; one order per key);
* `redelivery`: the matcher's redelivery skip: the SQS SequenceNumber <= lastSqsSeq check
  (`ShardMatcher._already_applied`) and the order-state dedupe (`matching.storage.is_matchable`).

Each is the real request with that one condition taken out (and the placeholders only it used),
or the real check answering "not seen before".
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import matching.services
import matching.storage
from matching.storage import OrderUpdate
from tests.sim.patches import patcher
from tulip.schema import IdempotencyItem

BUGS = ("fence", "filled_qty", "idempotency", "redelivery")
RequestRewrite = Callable[[str, dict[str, Any]], dict[str, Any]]

_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")


def without_condition(body: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
    """`body` (an Update or Put) with `condition` (default: its whole ConditionExpression) gone,
    and the names and values nothing else uses any more."""
    body = dict(body)
    remaining = None
    if condition is not None:
        remaining = body["ConditionExpression"].replace(f" AND {condition}", "").strip()
    if remaining:
        body["ConditionExpression"] = remaining
    else:
        body.pop("ConditionExpression", None)
    used = set(_PLACEHOLDER.findall(" ".join(
        str(body.get(k, "")) for k in ("ConditionExpression", "UpdateExpression"))))
    for field in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        if field in body:
            kept = {k: v for k, v in body[field].items() if k in used}
            if kept:
                body[field] = kept
            else:
                del body[field]
    return body


def _no_fence(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def advance_shard(*args: Any, **kwargs: Any) -> dict[str, Any]:
        item = original(*args, **kwargs)
        return {"Update": without_condition(item["Update"])}

    return advance_shard


def _no_filled_qty(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def render(self: OrderUpdate, *args: Any, **kwargs: Any) -> dict[str, Any]:
        item = original(self, *args, **kwargs)
        return {"Update": without_condition(item["Update"], "#fq = :expected")}

    return render


def no_idempotency_condition(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """Order entry's transaction with the IDEMP# Put's condition taken out."""
    if operation != "TransactWriteItems":
        return request
    items = []
    for entry in request["TransactItems"]:
        put = entry.get("Put")
        if put is not None and str(put["Item"]["pk"]["S"]).startswith(IdempotencyItem.PREFIX):
            entry = {"Put": without_condition(put)}
        items.append(entry)
    return {**request, "TransactItems": items}


def _matchable_whatever_its_state(order: Any, symbol: str) -> bool:
    return order is not None and order.symbol == symbol


@contextlib.contextmanager
def planted(bug: str | None, rewrites: list[RequestRewrite]) -> Iterator[None]:
    """Switch one guard off for the duration of a run (`rewrites`: the network's request
    rewriters, for guards that exist only in a request PynamoDB builds)."""
    if bug is None:
        yield
        return
    if bug not in BUGS:
        raise ValueError(f"unknown planted bug {bug!r}: one of {', '.join(BUGS)}")
    with contextlib.ExitStack() as stack:
        patch = patcher(stack)
        if bug == "fence":
            patch(matching.storage, "advance_shard", _no_fence(matching.storage.advance_shard))
        elif bug == "filled_qty":
            patch(OrderUpdate, "render", _no_filled_qty(OrderUpdate.render))
        elif bug == "idempotency":
            rewrites.append(no_idempotency_condition)
            stack.callback(rewrites.remove, no_idempotency_condition)
        else:
            patch(matching.services.ShardMatcher, "_already_applied", lambda self, received: False)
            patch(matching.storage, "is_matchable", _matchable_whatever_its_state)
        yield

