"""GET /metrics: Prometheus text of the TulipBroker metrics, aggregated across processes."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST

from ops import metrics_export


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    return HttpResponse(metrics_export.render(), content_type=CONTENT_TYPE_LATEST)
