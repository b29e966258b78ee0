from django.urls import path

from ops.views import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
]
