from django.conf import settings
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import path, re_path

from ops.views import ReadyzView, RegionView, metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
    path("readyz", ReadyzView.as_view(), name="readyz"),
    path("region", RegionView.as_view(), name="region"),
]

if settings.TULIP.environment != "production":
    # The admin console's CSS/JS for the local stack (uvicorn serves no static files and DEBUG is
    # off). Production serves static files from its own front (collectstatic to STATIC_ROOT).
    urlpatterns.append(re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}))
