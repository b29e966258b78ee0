"""Liveness and readiness (docs/api.md). Anonymous, so load balancers and Route 53 can call them;
a token that is sent is still verified (an invalid one is a 401)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tulip.health import readiness

_check = inline_serializer(
    "DependencyCheck",
    {"ok": serializers.BooleanField(), "latencyMs": serializers.FloatField(),
     "error": serializers.CharField(required=False)},
)


class HealthzView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Liveness",
        responses={200: inline_serializer("Healthz", {"status": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyzView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Readiness: each dependency and the region role; 503 when DynamoDB or SQS is down",
        responses={
            (200, "application/json"): inline_serializer(
                "Readyz",
                {
                    "status": serializers.ChoiceField(["ready", "not_ready"]),
                    "region": serializers.CharField(),
                    "regionRole": serializers.ChoiceField(["leader", "follower"]),
                    "leaderRegion": serializers.CharField(),
                    "checks": serializers.DictField(child=_check),
                },
            ),
        },
    )
    def get(self, request: Request) -> Response:
        cfg = settings.TULIP
        ready, checks = readiness(cfg)
        body = {
            "status": "ready" if ready else "not_ready",
            "region": cfg.aws_region,
            "regionRole": cfg.region_role,
            "leaderRegion": cfg.feature_flags.force_leader or cfg.leader_region,
            "checks": checks,
        }
        return Response(body, status=200 if ready else 503)
