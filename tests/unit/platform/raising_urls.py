"""A URL conf with views that fail on purpose, for the 500-path tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ExplodingApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internal detail: db password is hunter2")


def exploding_django_view(request: HttpRequest) -> HttpResponse:
    raise KeyError("secret internal detail")


urlpatterns = [
    path("api-boom", ExplodingApi.as_view()),
    path("django-boom", exploding_django_view),
]
handler500 = "tulip.errors.handler500"
handler404 = "tulip.errors.handler404"
