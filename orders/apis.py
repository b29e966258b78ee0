"""Thin DRF views for order entry: parse -> service/selector -> response (docs/api.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import forwarding, selectors, services
from orders.serializers import (
    BookSerializer,
    CancelRequestSerializer,
    FillPageSerializer,
    OrderPageSerializer,
    OrderRequestSerializer,
    OrderSerializer,
    TradePageSerializer,
)
from tulip.auth import Principal
from tulip.openapi import error_doc as _error
from tulip.params import json_body

AUTH_ERRORS = {401: _error("Missing or invalid token"), 403: _error("Not a trader")}
WRITE_ERRORS = {**AUTH_ERRORS, 400: _error("Validation error, or a body that is not JSON"),
                413: _error("Body too large"),
                415: _error("Content-Type is not application/json"),
                503: _error("denyWrites, or not the leader region")}
LIST_PARAMS = [OpenApiParameter("limit", int, description="1..100, default 50"),
               OpenApiParameter("cursor", str, description="nextCursor of the previous page")]


def _json_body(request: Request) -> Any:
    """The body as JSON (tulip.params.json_body: 415 when declared as anything but JSON, 400 when
    it is not JSON or past the nesting and number limits). A follower forwards the body as it
    came, and the leader answers the same."""
    return json_body(request.body, request.META.get("CONTENT_TYPE"))


def _principal(request: Request) -> Principal:
    user = request.user
    assert isinstance(user, Principal)  # guaranteed by the IsTrader permission
    return user


def _query(request: Request) -> dict[str, str]:
    return {key: request.query_params.get(key, "") for key in request.query_params}


class OrderView(APIView):
    parser_classes: list[Any] = []

    @extend_schema(
        summary="Submit a limit order (durable before ack, idempotent)",
        request=OrderRequestSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                     description="Same as the body's idempotencyKey")],
        responses={201: OrderSerializer, 200: OpenApiResponse(
            OrderSerializer, description="Identical replay: the original order, current state"),
            409: _error("Same key, different payload; details.orderId names the original"),
            **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        cfg = settings.TULIP
        answer, provisional = forwarding.through_leader(cfg, request, "/order", provisional_ok=True)
        if answer is not None:
            return answer
        result = services.submit_order(cfg, _principal(request).client_id, _json_body(request),
                                       request.headers.get("Idempotency-Key"), provisional)
        return Response(selectors.order_json(result.order), status=201 if result.created else 200)


class CancelView(APIView):
    parser_classes: list[Any] = []

    @extend_schema(
        summary="Cancel an open order (retry-safe: an already-cancelled order answers 200)",
        request=CancelRequestSerializer,
        responses={200: OrderSerializer,
                   404: _error("Not found, not yours (not_found), or FILLED (not_open)"),
                   **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        cfg = settings.TULIP
        answer, _ = forwarding.through_leader(cfg, request, "/cancel", provisional_ok=False)
        if answer is not None:
            return answer
        order = services.cancel_order(cfg, _principal(request).client_id, _json_body(request))
        return Response(selectors.order_json(order))


class OrderDetailView(APIView):
    @extend_schema(summary="One of the caller's orders",
                   responses={200: OrderSerializer, 404: _error("Not found or not yours"),
                              503: _error("This region's replica may not hold it yet: retry"),
                              **AUTH_ERRORS})
    def get(self, request: Request, order_id: str) -> Response:
        return Response(selectors.get_order(settings.TULIP, _principal(request).client_id,
                                            order_id))


class OrderListView(APIView):
    @extend_schema(
        summary="The caller's orders, newest first",
        parameters=[OpenApiParameter("status", str, enum=["open", "all"]),
                    OpenApiParameter("symbol", str), *LIST_PARAMS],
        responses={200: OrderPageSerializer, 400: _error("Bad parameter"), **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.list_orders(settings.TULIP, _principal(request).client_id,
                                              _query(request)))


class TradeListView(APIView):
    @extend_schema(
        summary="Public recent trades of a symbol, newest first",
        parameters=[OpenApiParameter("symbol", str),
                    OpenApiParameter("limit", int, description="1..100, default 50")],
        responses={200: TradePageSerializer, 400: _error("Bad parameter"), **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.list_trades(settings.TULIP, _query(request)))


class FillListView(APIView):
    @extend_schema(
        summary="The caller's fills (one side of each trade), newest first",
        parameters=[OpenApiParameter("symbol", str), *LIST_PARAMS],
        responses={200: FillPageSerializer, 400: _error("Bad parameter"), **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.list_fills(settings.TULIP, _principal(request).client_id,
                                             _query(request)))


class BookView(APIView):
    @extend_schema(
        summary="Top of book and depth (Redis snapshot; DynamoDB when the cache misses)",
        parameters=[OpenApiParameter("symbol", str),
                    OpenApiParameter("depth", int, description="1..50, default 5")],
        responses={200: BookSerializer, 400: _error("Unknown symbol or bad depth"), **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.get_book(settings.TULIP, _query(request)))
