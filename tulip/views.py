"""Liveness (docs/api.md). Anonymous, so load balancers and Route 53 can call it; a token that is
sent is still verified (an invalid one is a 401). Readiness, which also reports the region and
the shard leases, is ops' (ops/views.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class HealthzView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Liveness",
        responses={200: inline_serializer("Healthz", {"status": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})
