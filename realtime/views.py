"""The trading web page at `/` (template + static JS, no build step) and its two assets."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import render

ASSETS = Path(__file__).resolve().parent / "static" / "realtime"
ASSET_TYPES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}


def trading_page(request: HttpRequest) -> HttpResponse:
    return render(request, "realtime/index.html", {"symbols": ",".join(settings.TULIP.symbols)})


def asset(request: HttpRequest, name: str) -> FileResponse | HttpResponseNotFound:
    """Served here rather than through staticfiles so the page works under plain uvicorn with
    DEBUG off and no collectstatic step."""
    if name not in ASSET_TYPES:
        return HttpResponseNotFound()
    response = FileResponse((ASSETS / name).open("rb"), content_type=ASSET_TYPES[name])
    response["Cache-Control"] = "no-cache"
    return response
