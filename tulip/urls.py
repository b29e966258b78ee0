from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from tulip.views import HealthzView

urlpatterns = [
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("api/schema", SpectacularAPIView.as_view(permission_classes=[AllowAny],
                                                  authentication_classes=[]), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny],
                                                    authentication_classes=[]), name="docs"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="schema", permission_classes=[AllowAny],
                                                   authentication_classes=[],
                                                   template_name="tulip/redoc.html"), name="redoc"),
    path("admin/", admin.site.urls),
    path("", include("orders.urls")),
    path("", include("realtime.urls")),
    path("", include("ops.urls")),
]

handler400 = "tulip.errors.handler400"
handler403 = "tulip.errors.handler403"
handler404 = "tulip.errors.handler404"
handler500 = "tulip.errors.handler500"
