"""Shapes of the HTTP contract (design §4) for the OpenAPI document.

Validation itself lives in orders.domain (pure, one place); these serializers describe the same
fields so /api/schema documents exactly what the views accept and return.
"""

from __future__ import annotations

from rest_framework import serializers

from orders.domain import KEY_RE, MAX_QTY, SIDES, TIME_IN_FORCE

STATES = ["ACCEPTED", "OPEN", "PARTIALLY_FILLED", "FILLED", "CANCELLED"]
ERROR_CODES = ["validation_error", "unauthorized", "forbidden", "not_found", "idempotency_conflict",
               "not_open", "payload_too_large", "unavailable", "internal"]


class OrderRequestSerializer(serializers.Serializer):  # type: ignore[misc]
    symbol = serializers.CharField(required=False, help_text="Default: first of TULIP_SYMBOLS.")
    side = serializers.ChoiceField(SIDES)
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    price = serializers.CharField(
        help_text="> 0, on the 0.01 tick; a decimal string (\"101.25\") or a JSON number.")
    timeInForce = serializers.ChoiceField(TIME_IN_FORCE, required=False, default="GTC")  # noqa: N815
    postOnly = serializers.BooleanField(required=False, default=False)  # noqa: N815
    idempotencyKey = serializers.RegexField(  # noqa: N815
        KEY_RE.pattern, required=False,
        help_text="Required here or as the Idempotency-Key header (both and different: 400).")
    clientId = serializers.CharField(  # noqa: N815
        required=False, help_text="Optional; must equal the token's sub or the answer is 403.")


class CancelRequestSerializer(serializers.Serializer):  # type: ignore[misc]
    orderId = serializers.CharField()  # noqa: N815


class OrderSerializer(serializers.Serializer):  # type: ignore[misc]
    orderId = serializers.CharField()  # noqa: N815
    clientId = serializers.CharField()  # noqa: N815
    symbol = serializers.CharField()
    side = serializers.ChoiceField(SIDES)
    qty = serializers.IntegerField()
    price = serializers.CharField()
    timeInForce = serializers.ChoiceField(TIME_IN_FORCE)  # noqa: N815
    postOnly = serializers.BooleanField()  # noqa: N815
    status = serializers.ChoiceField(STATES)
    filledQty = serializers.IntegerField()  # noqa: N815
    avgFillPrice = serializers.CharField(allow_null=True)  # noqa: N815
    createdAt = serializers.CharField()  # noqa: N815
    acceptedAt = serializers.CharField()  # noqa: N815
    updatedAt = serializers.CharField()  # noqa: N815
    region = serializers.CharField()
    seq = serializers.IntegerField(allow_null=True)


class TradeSerializer(serializers.Serializer):  # type: ignore[misc]
    tradeId = serializers.CharField()  # noqa: N815
    symbol = serializers.CharField()
    price = serializers.CharField()
    qty = serializers.IntegerField()
    takerSide = serializers.ChoiceField(SIDES)  # noqa: N815
    seq = serializers.IntegerField()
    ts = serializers.CharField()


class FillSerializer(serializers.Serializer):  # type: ignore[misc]
    tradeId = serializers.CharField()  # noqa: N815
    orderId = serializers.CharField()  # noqa: N815
    symbol = serializers.CharField()
    side = serializers.ChoiceField(SIDES)
    price = serializers.CharField()
    qty = serializers.IntegerField()
    liquidity = serializers.ChoiceField(["maker", "taker"])
    seq = serializers.IntegerField()
    ts = serializers.CharField()


class LevelSerializer(serializers.Serializer):  # type: ignore[misc]
    price = serializers.CharField()
    qty = serializers.IntegerField()
    orders = serializers.IntegerField()


class BookSerializer(serializers.Serializer):  # type: ignore[misc]
    symbol = serializers.CharField()
    seq = serializers.IntegerField()
    bids = LevelSerializer(many=True)
    asks = LevelSerializer(many=True)
    ts = serializers.CharField()


def page_of(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    return type(name, (serializers.Serializer,), {
        "items": item(many=True),
        "nextCursor": serializers.CharField(allow_null=True),
    })


OrderPageSerializer = page_of(OrderSerializer, "OrderPage")
TradePageSerializer = page_of(TradeSerializer, "TradePage")
FillPageSerializer = page_of(FillSerializer, "FillPage")


class ErrorDetailSerializer(serializers.Serializer):  # type: ignore[misc]
    code = serializers.ChoiceField(ERROR_CODES)
    message = serializers.CharField()
    details = serializers.DictField()
    correlationId = serializers.CharField()  # noqa: N815


class ErrorSerializer(serializers.Serializer):  # type: ignore[misc]
    error = ErrorDetailSerializer()
