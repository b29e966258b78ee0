"""ASGI entry point: HTTP through Django, WebSockets through Channels (realtime routes)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tulip.settings")

import django

django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application does first

from tulip.request_threads import PooledThreadsASGIHandler  # noqa: E402

django_asgi = PooledThreadsASGIHandler()

from tulip.tracing import setup_tracing  # noqa: E402

setup_tracing("http")

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.routing import websocket_urlpatterns  # noqa: E402
from tulip.ws_auth import QueryTokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": QueryTokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)

from django.urls import get_resolver  # noqa: E402

from tulip.heap import freeze_startup_heap  # noqa: E402

# Start-up is done once the URL conf (and with it every view module) is imported: keep that heap
# out of the collector's full walks, which otherwise stall requests in flight (tulip/heap.py).
get_resolver().url_patterns  # noqa: B018 - imported for its side effect
freeze_startup_heap()
