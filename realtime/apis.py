"""HTTP endpoints of realtime (docs/api.md): GET /events, GET /poll, POST /auth/login. Thin."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime import services
from tulip.auth import Principal, TokenRejected, verify_token
from tulip.errors import ApiError, Forbidden, Unauthorized, ValidationFailed, error_response, json_response
from tulip.openapi import error_doc as _error
from tulip.params import json_body

READ_ERRORS = {400: _error("Bad parameter"), 401: _error("Missing or invalid token"),
               403: _error("Not a trader")}


def _query(request: Request | HttpRequest) -> dict[str, str]:
    params = request.GET
    return {key: params.get(key, "") for key in params}


class EventsView(APIView):
    @extend_schema(
        summary="Sequenced public market events after fromSeq (gap recovery)",
        parameters=[OpenApiParameter("symbol", str), OpenApiParameter("fromSeq", int),
                    OpenApiParameter("limit", int, description="1..1000, default 100"),
                    OpenApiParameter("cursor", str, description="nextCursor of the previous page")],
        responses={200: inline_serializer("EventPage", {
            "items": serializers.ListField(child=serializers.DictField()),
            "nextCursor": serializers.CharField(allow_null=True)}), **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(services.events_page(settings.TULIP, _query(request)))


class LoginView(APIView):
    """The web page's sign-in: user/password -> a Cognito access token (USER_PASSWORD_AUTH)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    parser_classes: list[Any] = []

    @extend_schema(
        summary="Sign in with a Cognito user name and password; returns an access token",
        request=inline_serializer("Login", {"username": serializers.CharField(),
                                            "password": serializers.CharField()}),
        responses={200: inline_serializer("LoginResult", {
            "accessToken": serializers.CharField(), "expiresIn": serializers.IntegerField(),
            "tokenType": serializers.CharField(), "username": serializers.CharField()}),
            400: _error("username/password missing, or the body is not JSON"),
            401: _error("Wrong user name or password"), 413: _error("Body too large"),
            415: _error("Content-Type is not application/json"), 503: _error("Cognito unavailable")},
    )
    def post(self, request: Request) -> Response:
        body = json_body(request.body, request.META.get("CONTENT_TYPE"))
        username = body.get("username") if isinstance(body, dict) else None
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(username, str) or not username or len(username) > 128 or \
                not isinstance(password, str) or not password or len(password) > 256:
            raise ValidationFailed("username and password are required.",
                                   {"username": ["required"], "password": ["required"]})
        return Response(services.cognito_login(settings.TULIP, username, password))


def _principal(request: HttpRequest) -> Principal:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authentication is required: send a Bearer token.")
    try:
        principal = verify_token(token.strip())
    except TokenRejected as exc:
        raise Unauthorized(str(exc)) from None
    if not principal.is_trader:
        raise Forbidden("This account may not trade (not in the 'traders' group).")
    return principal


@csrf_exempt  # a token-authenticated API, like the DRF views (which are exempt): a POST is a 405
async def poll_view(request: HttpRequest) -> HttpResponse:
    """GET /poll — async on purpose: a sync view would hold one of Django's thread-sensitive
    executor slots for up to 25 s and stall every other sync view. Its answers, errors included,
    are rendered exactly as the DRF views' (tulip.errors.json_response)."""
    if request.method != "GET":
        response = error_response(405)
        response["Allow"] = "GET"
        return response
    try:
        principal = await sync_to_async(_principal, thread_sensitive=False)(request)
        poll = services.parse_poll(settings.TULIP, _query(request))
        body = await services.long_poll(settings.TULIP, principal.client_id, poll)
    except ApiError as exc:
        response = error_response(exc.status, exc.message, exc.details, exc.code)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="tulip"'
        return response
    return json_response(body)
