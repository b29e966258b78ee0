from django.urls import path

from realtime.consumers import StreamConsumer

websocket_urlpatterns = [path("ws", StreamConsumer.as_asgi())]
