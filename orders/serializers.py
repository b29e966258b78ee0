"""Shapes of the HTTP contract (docs/api.md) for the OpenAPI document.

Validation itself lives in orders.domain (pure, one place); these serializers describe the same
fields so /api/schema documents exactly what the views accept and return.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from orders.domain import KEY_RE, MAX_QTY, SIDES, TIME_IN_FORCE
from tulip.schema import (
    DEFAULT_SELF_TRADE_PREVENTION,
    OPEN_STATES,
    SELF_TRADE_PREVENTION,
    TERMINAL_STATES,
)

STATES = [*OPEN_STATES, *TERMINAL_STATES]
# What each serializer describes: a JSON object, a request body or what a view answers with.
_Json = dict[str, Any]


class OrderRequestSerializer(serializers.Serializer[_Json]):
    symbol = serializers.CharField(required=False, help_text="Default: first of TULIP_SYMBOLS.")
    side = serializers.ChoiceField(SIDES)
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    price = serializers.RegexField(
        r"^[0-9]{1,7}(\.[0-9]{1,2})?$",
        help_text="> 0, on the 0.01 tick; a decimal string (\"101.25\") or a JSON number.")
    timeInForce = serializers.ChoiceField(TIME_IN_FORCE, required=False, default="GTC")
    postOnly = serializers.BooleanField(required=False, default=False)
    selfTradePrevention = serializers.ChoiceField(
        SELF_TRADE_PREVENTION, required=False, default=DEFAULT_SELF_TRADE_PREVENTION,
        help_text="When this order would trade with one of the caller's own resting orders: "
                  "cancelNewest cancels this order's remainder (the default), cancelOldest the "
                  "resting order (matching continues), cancelBoth both. There is no decrement "
                  "mode: the matching engine does not implement one.")
    idempotencyKey = serializers.RegexField(
        KEY_RE.pattern, required=False,
        help_text="Required here or as the Idempotency-Key header (both and different: 400).")
    clientId = serializers.CharField(
        required=False, help_text="Optional; must equal the token's sub or the answer is 403.")


class CancelRequestSerializer(serializers.Serializer[_Json]):
    orderId = serializers.CharField()


class OrderSerializer(serializers.Serializer[_Json]):
    orderId = serializers.CharField()
    clientId = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.ChoiceField(SIDES)
    qty = serializers.IntegerField()
    price = serializers.CharField()
    timeInForce = serializers.ChoiceField(TIME_IN_FORCE)
    postOnly = serializers.BooleanField()
    selfTradePrevention = serializers.ChoiceField(SELF_TRADE_PREVENTION)
    status = serializers.ChoiceField(STATES)
    filledQty = serializers.IntegerField()
    avgFillPrice = serializers.CharField(allow_null=True)
    createdAt = serializers.CharField()
    acceptedAt = serializers.CharField()
    updatedAt = serializers.CharField()
    region = serializers.CharField()
    seq = serializers.IntegerField(allow_null=True)
    provisional = serializers.BooleanField(
        required=False, help_text="present (true) only on an order a follower region took while "
                                  "the leader could not be reached (acceptWhenLeaderDown)")


class TradeSerializer(serializers.Serializer[_Json]):
    tradeId = serializers.CharField()
    symbol = serializers.CharField()
    price = serializers.CharField()
    qty = serializers.IntegerField()
    takerSide = serializers.ChoiceField(SIDES)
    seq = serializers.IntegerField()
    ts = serializers.CharField()


class FillSerializer(serializers.Serializer[_Json]):
    tradeId = serializers.CharField()
    orderId = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.ChoiceField(SIDES)
    price = serializers.CharField()
    qty = serializers.IntegerField()
    liquidity = serializers.ChoiceField(["maker", "taker"])
    seq = serializers.IntegerField()
    ts = serializers.CharField()


class LevelSerializer(serializers.Serializer[_Json]):
    price = serializers.CharField()
    qty = serializers.IntegerField()
    orders = serializers.IntegerField()


class BookSerializer(serializers.Serializer[_Json]):
    symbol = serializers.CharField()
    seq = serializers.IntegerField()
    bids = LevelSerializer(many=True)
    asks = LevelSerializer(many=True)
    ts = serializers.CharField()


def page_of(item: type[serializers.Serializer[_Json]], name: str) -> type[serializers.Serializer[_Json]]:
    return type(name, (serializers.Serializer,), {
        "items": item(many=True),
        "nextCursor": serializers.CharField(allow_null=True),
    })


OrderPageSerializer = page_of(OrderSerializer, "OrderPage")
TradePageSerializer = page_of(TradeSerializer, "TradePage")
FillPageSerializer = page_of(FillSerializer, "FillPage")
