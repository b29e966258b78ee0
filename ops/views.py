"""GET /metrics (Prometheus text of the TulipBroker metrics, aggregated across processes) and
GET /readyz (each dependency, the region role and who holds which shard). Both anonymous, for
scrapers, load balancers and health checks (docs/api.md)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ops import metrics_export, regions, selectors
from tulip.health import readiness
from tulip.regions import current as leadership_now


@csrf_exempt  # no cookie session here: a POST is answered 405 (the JSON error body), not 403
def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    return HttpResponse(metrics_export.render(), content_type=CONTENT_TYPE_LATEST)


_check = inline_serializer(
    "DependencyCheck",
    {"ok": serializers.BooleanField(), "latencyMs": serializers.FloatField(),
     "error": serializers.CharField(required=False)},
)
_shard = inline_serializer(
    "ShardLease", many=True, fields={
        "symbol": serializers.CharField(), "holder": serializers.CharField(allow_null=True),
     "epoch": serializers.IntegerField(), "lastSeq": serializers.IntegerField(),
     "takenAt": serializers.CharField(allow_null=True),
     "leaseAgeMs": serializers.IntegerField(allow_null=True,
                                            help_text="since the holder last renewed"),
     "leaseExpiresInMs": serializers.IntegerField(allow_null=True)},
)


class ReadyzView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Readiness: each dependency, the region role and the shard leases; 503 when "
                "DynamoDB or SQS is down",
        responses={
            (200, "application/json"): inline_serializer(
                "Readyz",
                {
                    "status": serializers.ChoiceField(["ready", "not_ready"]),
                    "region": serializers.CharField(),
                    "regionRole": serializers.ChoiceField(["leader", "follower"]),
                    "leaderRegion": serializers.CharField(),
                    "checks": serializers.DictField(child=_check),
                    "shards": _shard,
                },
            ),
        },
    )
    def get(self, request: Request) -> Response:
        cfg = settings.TULIP
        ready, checks = readiness(cfg)
        role, leader = cfg.region_role, cfg.feature_flags.force_leader or cfg.leader_region
        if checks["dynamodb"]["ok"]:  # the live leadership (flags, record); else configuration
            leadership = leadership_now(cfg)
            role, leader = leadership.role, leadership.leader_region
        body = {
            "status": "ready" if ready else "not_ready",
            "region": cfg.aws_region,
            "regionRole": role,
            "leaderRegion": leader,
            "checks": checks,
            "shards": selectors.shard_leases(cfg) if checks["dynamodb"]["ok"] else [],
        }
        return Response(body, status=200 if ready else 503)


class RegionView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="This region: its role, the leader region, the leadership epoch, whether it is "
                "healthy (what health checks and clients re-pin by), its replication lag",
        responses={
            (200, "application/json"): inline_serializer("Region", {
                "region": serializers.CharField(),
                "role": serializers.ChoiceField(["leader", "follower"]),
                "leaderRegion": serializers.CharField(),
                "epoch": serializers.IntegerField(help_text="the leadership term"),
                "healthy": serializers.BooleanField(),
                "replicationLagMs": serializers.IntegerField(),
                "steppedDown": serializers.BooleanField(),
                "regions": serializers.ListField(child=serializers.CharField()),
            }),
        },
    )
    def get(self, request: Request) -> Response:
        healthy, body = regions.region_view(settings.TULIP)
        return Response(body, status=200 if healthy else 503)
