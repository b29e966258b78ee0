"""ASGI entry point: HTTP through Django, WebSockets through Channels (realtime routes)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tulip.settings")

from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()

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
