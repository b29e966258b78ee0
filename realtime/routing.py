from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import path

from realtime.consumers import StreamConsumer

if TYPE_CHECKING:
    from channels.routing import URLRouter, _ExtendedURLPattern

# A consumer is routed by Django's path(), as Channels documents, but django-stubs' path() takes
# only views and Channels' stubs type URLRouter's routes with a pattern type of their own.
websocket_urlpatterns: list[_ExtendedURLPattern | URLRouter] = [
    path("ws", StreamConsumer.as_asgi()),  # type: ignore[arg-type, list-item]
]
