"""The trading web page at `/` (template + static JS, no build step), its assets and the vendored
chart library (uPlot, tulip/static/vendor/uplot: pinned, offline, licence noted there)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import render

ASSETS = Path(__file__).resolve().parent / "static" / "realtime"
VENDOR = Path(__file__).resolve().parents[1] / "tulip" / "static" / "vendor" / "uplot"
# name under /ui/ -> (file, content type)
ASSET_FILES = {
    "app.js": (ASSETS / "app.js", "text/javascript; charset=utf-8"),
    "app.css": (ASSETS / "app.css", "text/css; charset=utf-8"),
    "uPlot.iife.min.js": (VENDOR / "uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "uPlot.min.css": (VENDOR / "uPlot.min.css", "text/css; charset=utf-8"),
}


def trading_page(request: HttpRequest) -> HttpResponse:
    cfg = settings.TULIP
    # Every region's base URL, so the page can re-pin to a healthy one by GET /region (the same
    # choice as the SDK's; docs/realtime.md).
    return render(request, "realtime/index.html", {
        "symbols": ",".join(cfg.symbols), "region": cfg.aws_region,
        "region_urls": dict(cfg.region_urls)})


def asset(request: HttpRequest, name: str) -> FileResponse | HttpResponseNotFound:
    """Served here rather than through staticfiles so the page works under plain uvicorn with
    DEBUG off and no collectstatic step."""
    if name not in ASSET_FILES:
        return HttpResponseNotFound()
    path, content_type = ASSET_FILES[name]
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Cache-Control"] = "no-cache"
    return response
