"""A URL conf whose views report the thread that ran them, for tests/unit/platform/
test_request_threads.py; the admin is kept so pages (HTML paths) can be requested too."""

import threading

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path

GATE = threading.Barrier(2, timeout=10)


def which_thread(request: HttpRequest) -> JsonResponse:
    if request.GET.get("together"):
        GATE.wait()  # two requests in flight at once: each must have a thread of its own
    return JsonResponse({"thread": threading.get_ident()})


urlpatterns = [
    path("thread", which_thread),
    path("admin/", admin.site.urls),
]
