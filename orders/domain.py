"""Order-entry domain: validation of a submit, the idempotency key and fingerprint, order states.

Pure (no Django, no boto3): a request body in, a validated `OrderRequest` or a dict of field
errors out. Prices become integer ticks here, at the edge, with the engine's own tick
(docs/rules.md: integers inside, decimal strings at the edge).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from matching.engine.units import TICK
from tulip.schema import DEFAULT_SELF_TRADE_PREVENTION, SELF_TRADE_PREVENTION

SIDES: Final = ("BUY", "SELL")
TIME_IN_FORCE: Final = ("GTC", "IOC", "FOK")
TICKS_PER_UNIT: Final = int(1 / TICK)
MAX_PRICE: Final = Decimal("1000000.00")
MAX_QTY: Final = 1_000_000
KEY_RE: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ORDER_FIELDS: Final = frozenset(
    {"symbol", "side", "qty", "price", "timeInForce", "postOnly", "selfTradePrevention",
     "idempotencyKey", "clientId"})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: str
    qty: int
    price_ticks: int
    time_in_force: str
    post_only: bool
    idempotency_key: str
    self_trade_prevention: str = DEFAULT_SELF_TRADE_PREVENTION

    def fingerprint(self) -> str:
        """Identity of the request's meaning: the same order written differently ("101.5" vs
        101.50) has the same fingerprint; any changed field changes it. The self-trade mode
        counts only when it is not the default, so an omitted mode and an explicit cancelNewest
        are the same order, as every order stored before the field existed is."""
        fields: list[object] = [self.symbol, self.side, self.qty, self.price_ticks,
                                self.time_in_force, self.post_only]
        if self.self_trade_prevention != DEFAULT_SELF_TRADE_PREVENTION:
            fields.append(self.self_trade_prevention)
        canonical = json.dumps(fields, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_hash(client_id: str, idempotency_key: str) -> str:
    """IK = sha256(clientId + idempotencyKey) (docs/rules.md, idempotency). clientId is the
    token's `sub`, a UUID of fixed length, so the concatenation is unambiguous."""
    return hashlib.sha256((client_id + idempotency_key).encode()).hexdigest()


def parse_price(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None, "must be a decimal string or a number"
    try:
        # str() first so a JSON float like 101.25 is read as written, not as its binary expansion.
        price = Decimal(str(value).strip())
    except InvalidOperation:
        return None, "is not a decimal number"
    if not price.is_finite():
        return None, "is not a decimal number"
    if price <= 0:
        return None, "must be greater than 0"
    if price > MAX_PRICE:
        return None, f"must be at most {MAX_PRICE}"
    # quantize, not `price % TICK`: a remainder of 1e-999999999 by 0.01 is no number the
    # context can hold (it came out as 0, and 0 ticks were accepted). Within (0, MAX_PRICE] the
    # quantized value always fits, so it equals the price exactly when the price is on the tick.
    on_tick = price.quantize(TICK)
    if on_tick != price or on_tick <= 0:
        return None, f"must be on the tick size {TICK}"
    return int(on_tick * TICKS_PER_UNIT), None


def validate_order(body: Any, header_key: str | None, symbols: tuple[str, ...],
                   client_id: str) -> tuple[OrderRequest | None, dict[str, list[str]], bool]:
    """Returns (request, field errors, forbidden). `forbidden` is a body clientId that is not the
    caller's (a 403, not a 400)."""
    if not isinstance(body, dict):
        return None, {"body": ["must be a JSON object"]}, False
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for unknown in sorted(set(body) - ORDER_FIELDS):
        bad(unknown, "unknown field")

    forbidden = "clientId" in body and body["clientId"] != client_id

    symbol = body.get("symbol", symbols[0])
    if not isinstance(symbol, str) or symbol not in symbols:
        bad("symbol", f"must be one of {', '.join(symbols)}")
    side = body.get("side")
    if side not in SIDES:
        bad("side", "must be BUY or SELL")
    qty = body.get("qty")
    if isinstance(qty, bool) or not isinstance(qty, int):
        bad("qty", "must be an integer")
    elif not 1 <= qty <= MAX_QTY:
        bad("qty", f"must be between 1 and {MAX_QTY}")
    price_ticks, price_error = (None, "is required") if "price" not in body else parse_price(
        body["price"])
    if price_error:
        bad("price", price_error)
    tif = body.get("timeInForce", "GTC")
    if tif not in TIME_IN_FORCE:
        bad("timeInForce", "must be GTC, IOC or FOK")
    post_only = body.get("postOnly", False)
    if not isinstance(post_only, bool):
        bad("postOnly", "must be true or false")
    elif post_only and tif != "GTC":
        bad("postOnly", "is only valid with timeInForce GTC (a post-only order must rest)")

    stp = body.get("selfTradePrevention", DEFAULT_SELF_TRADE_PREVENTION)
    if stp not in SELF_TRADE_PREVENTION:
        bad("selfTradePrevention", f"must be one of {', '.join(SELF_TRADE_PREVENTION)}")

    body_key = body.get("idempotencyKey")
    if body_key is not None and header_key is not None and body_key != header_key:
        bad("idempotencyKey", "differs from the Idempotency-Key header")
    key = body_key if body_key is not None else header_key
    if key is None:
        bad("idempotencyKey", "is required (body field or Idempotency-Key header)")
    elif not isinstance(key, str) or not KEY_RE.match(key):
        bad("idempotencyKey", "must be 1-128 characters of A-Z a-z 0-9 . _ : -")

    if errors or forbidden:
        return None, errors, forbidden
    assert isinstance(symbol, str) and isinstance(side, str) and isinstance(qty, int)
    assert price_ticks is not None and isinstance(key, str) and isinstance(tif, str)
    assert isinstance(stp, str)
    return OrderRequest(symbol, side, qty, price_ticks, tif, bool(post_only), key, stp), {}, False
