"""Stored market events -> WebSocket messages (docs/api.md). Pure: stdlib only, no Django, no I/O.

One function, `messages_for_events`, is used by every path that produces stream messages — the
matcher's fan-out after a commit, the `/poll` long-poll and the client's resync — so a message
read back from DynamoDB is byte-for-byte the message the socket would have carried.

Input: the stored event dicts of docs/storage.md, ascending by `seq`, gap-free, starting at a
command boundary::

    {"seq": 17, "type": "TradeExecuted", "symbol": "TULIP", "ts": "2026-...Z",
     "payload": {... event fields ..., "l2": {"bids": [[price, qty, orders]], "asks": [...]}}}

`payload` may be a dict or its JSON string (as stored). The matcher puts the command's L2 delta
under `payload["l2"]` of the *last* event of each command; that marks the command boundary.

Chaining (`prevSeq` = seq of the previous message of the same topic and symbol):
- `book:<s>`: exactly one delta per command (possibly with no changed levels), so the previous
  book message is the previous command's last event: `prevSeq = first seq of the command - 1`.
  Exact without any state, because seq is gap-free per symbol.
- `trades:<s>`: the previous trade may lie in an earlier batch. Within one call trades chain to
  each other; the first one takes `last_seqs["trades:<s>"]` when the caller passes it (and the
  mapping is updated in place), else `None` — the publisher then fills it (realtime/publisher.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from decimal import Decimal
from typing import Any

Message = dict[str, Any]
StoredEvent = Mapping[str, Any]

MATCHER_TYPES = frozenset({"OrderOpened", "TradeExecuted", "OrderCancelled", "OrderRejected",
                           "CancelRejected"})
# Fields that identify a trader. Never served on public paths (/events, trades, book).
PRIVATE_FIELDS = frozenset({"clientId", "makerClientId", "takerClientId", "buyClientId",
                            "sellClientId", "idempotencyKey"})
ORDER_STATUS_TOPIC = "orderStatus"


def encode(message: Mapping[str, Any]) -> str:
    """A message as the text of its WebSocket frame. The one encoding every sender uses: the
    publisher encodes each published message once for all its subscribers, the socket encodes
    its own replies (subscribed, heartbeat, errors) the same way."""
    return json.dumps(message)


def trades_topic(symbol: str) -> str:
    return f"trades:{symbol}"


def book_topic(symbol: str) -> str:
    return f"book:{symbol}"


def payload_of(event: StoredEvent) -> dict[str, Any]:
    raw = event.get("payload") or {}
    if isinstance(raw, str):
        decoded = json.loads(raw) if raw else {}
        return dict(decoded) if isinstance(decoded, dict) else {}
    return dict(raw)


def public_event(event: StoredEvent) -> dict[str, Any]:
    """The `/events` item: `{seq, type, symbol, ts, epoch, ...payload}` without private fields;
    `epoch` is the shard leadership that committed it (docs/architecture.md, "Regions")."""
    payload = {k: v for k, v in payload_of(event).items() if k not in PRIVATE_FIELDS}
    item = {**payload, "seq": int(event["seq"]), "type": str(event["type"]),
            "symbol": str(event["symbol"]), "ts": event.get("ts")}
    if event.get("epoch") is not None:
        item["epoch"] = int(event["epoch"])
    return item


def level_objects(levels: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Stored `[priceStr, qty, orders]` -> contract `{price, qty, orders}`; qty 0 = level gone."""
    return [{"price": str(level[0]), "qty": int(level[1]), "orders": int(level[2])}
            for level in levels]


def split_commands(events: Sequence[StoredEvent]) -> list[list[StoredEvent]]:
    """Group events into commands. A command ends with the event carrying `l2`; an event of a
    type the matcher does not emit (e.g. ops' `Reconciled`) stands alone."""
    commands: list[list[StoredEvent]] = []
    current: list[StoredEvent] = []
    for event in events:
        standalone = str(event.get("type")) not in MATCHER_TYPES
        if standalone and current:
            commands.append(current)
            current = []
        current.append(event)
        if standalone or "l2" in payload_of(event):
            commands.append(current)
            current = []
    if current:
        commands.append(current)  # tail without l2: a page cut mid-command (no book message yet)
    return commands


def _order(symbol: str, event: StoredEvent, **fields: Any) -> dict[str, Any]:
    order = {"symbol": symbol, "updatedAt": event.get("ts"), "seq": int(event["seq"])}
    order.update({k: v for k, v in fields.items() if v is not None})
    return order


def _status_message(symbol: str, event: StoredEvent, **fields: Any) -> Message | None:
    if not fields.get("clientId") or not fields.get("orderId"):
        return None
    return {"type": "orderStatus", "topic": ORDER_STATUS_TOPIC, "seq": int(event["seq"]),
            "order": _order(symbol, event, **fields)}


def _fill_status(remaining: int) -> str:
    return "FILLED" if remaining == 0 else "PARTIALLY_FILLED"


def _event_messages(symbol: str, event: StoredEvent, payload: dict[str, Any],
                    prev_trade: int | None) -> tuple[list[Message], int | None]:
    kind = str(event["type"])
    seq = int(event["seq"])
    out: list[Message | None] = []
    if kind == "TradeExecuted":
        out.append({"type": "trade", "topic": trades_topic(symbol), "seq": seq,
                    "prevSeq": prev_trade, "tradeId": payload.get("tradeId"),
                    "price": payload.get("price"), "qty": payload.get("qty"),
                    "takerSide": payload.get("takerSide"), "ts": event.get("ts")})
        prev_trade = seq
        taker_side = payload.get("takerSide")
        maker_side = "SELL" if taker_side == "BUY" else "BUY"
        for role, side, price in (("maker", maker_side, payload.get("price")),
                                  ("taker", taker_side, None)):
            filled = int(payload.get(f"{role}Filled") or 0)
            remaining = int(payload.get(f"{role}Remaining") or 0)
            out.append(_status_message(
                symbol, event, orderId=payload.get(f"{role}OrderId"),
                clientId=payload.get(f"{role}ClientId"), side=side, price=price,
                qty=filled + remaining, filledQty=filled, remaining=remaining,
                status=_fill_status(remaining), lastFill={"tradeId": payload.get("tradeId"),
                                                          "price": payload.get("price"),
                                                          "qty": payload.get("qty")}))
    elif kind == "OrderOpened":
        filled = int(payload.get("filled") or 0)
        out.append(_status_message(
            symbol, event, orderId=payload.get("orderId"), clientId=payload.get("clientId"),
            side=payload.get("side"), price=payload.get("price"), qty=payload.get("qty"),
            filledQty=filled, remaining=payload.get("remaining"),
            status="OPEN" if filled == 0 else "PARTIALLY_FILLED"))
    elif kind == "OrderCancelled":
        filled = int(payload.get("filled") or 0)
        remaining = int(payload.get("remaining") or 0)
        out.append(_status_message(
            symbol, event, orderId=payload.get("orderId"), clientId=payload.get("clientId"),
            qty=filled + remaining, filledQty=filled, remaining=0, status="CANCELLED",
            cancelReason=payload.get("reason")))
    elif kind == "OrderRejected":
        out.append(_status_message(
            symbol, event, orderId=payload.get("orderId"), clientId=payload.get("clientId"),
            filledQty=0, remaining=0, status="CANCELLED",
            cancelReason=f"rejected:{payload.get('reason')}"))
    # CancelRejected changes no order; Reconciled et al. carry ops payloads: book message only.
    return [m for m in out if m is not None], prev_trade


def messages_for_events(symbol: str, events: Sequence[StoredEvent],
                        last_seqs: MutableMapping[str, int] | None = None) -> list[Message]:
    """WebSocket messages for `events` (see the module docstring for the input contract).

    Order: per command, its trades and orderStatus messages in event order, then the command's
    book delta. `last_seqs` (topic -> last seq) seeds the trade chain and is updated in place.
    """
    t_topic = trades_topic(symbol)
    prev_trade: int | None = last_seqs.get(t_topic) if last_seqs is not None else None
    messages: list[Message] = []
    for command in split_commands(events):
        first_seq = int(command[0]["seq"])
        l2: dict[str, Any] | None = None
        for event in command:
            payload = payload_of(event)
            produced, prev_trade = _event_messages(symbol, event, payload, prev_trade)
            messages.extend(produced)
            raw_l2 = payload.get("l2")
            if isinstance(raw_l2, dict):
                l2 = raw_l2
        last = command[-1]
        if l2 is not None or str(last.get("type")) not in MATCHER_TYPES:
            delta = l2 or {}
            messages.append({"type": "book", "topic": book_topic(symbol), "seq": int(last["seq"]),
                             "prevSeq": first_seq - 1,
                             "bids": level_objects(delta.get("bids") or []),
                             "asks": level_objects(delta.get("asks") or [])})
    if last_seqs is not None and prev_trade is not None:
        last_seqs[t_topic] = prev_trade
    return messages


def group_for(message: Mapping[str, Any]) -> str:
    """Channels group of a message (docs/storage.md): trades.<s>, book.<s>, orders.<clientId>."""
    if message["type"] == "orderStatus":
        return f"orders.{message['order']['clientId']}"
    kind, _, symbol = str(message["topic"]).partition(":")
    return f"{kind}.{symbol}"


def apply_book_delta(levels: dict[str, dict[str, Any]], changed: Iterable[Mapping[str, Any]]) -> None:
    """Apply delta levels to `{price: level}` in place (qty 0 removes the level)."""
    for level in changed:
        price = str(level["price"])
        if int(level["qty"]) == 0:
            levels.pop(price, None)
        else:
            levels[price] = {"price": price, "qty": int(level["qty"]),
                             "orders": int(level.get("orders", 0))}


def sorted_levels(levels: Mapping[str, Mapping[str, Any]], side: str, depth: int) -> list[dict[str, Any]]:
    """Best first: bids by price descending, asks ascending."""
    ordered = sorted(levels.values(), key=lambda lv: Decimal(str(lv["price"])),
                     reverse=side == "bids")
    return [dict(level) for level in ordered[:depth]]
