"""A URL conf with views that fail on purpose, for the 500-path tests."""

from botocore.exceptions import ClientError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from pynamodb.exceptions import PutError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ExplodingApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internal detail: db password is hunter2")


class ThrottledApi(APIView):
    """DynamoDB says slow down, wrapped as PynamoDB wraps it: transient, a 503 (tulip/transient.py)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request: Request) -> Response:
        cause = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                       "Message": "secret internal detail"},
                             "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")
        raise PutError("secret internal detail", cause=cause)


def exploding_django_view(request: HttpRequest) -> HttpResponse:
    raise KeyError("secret internal detail")


urlpatterns = [
    path("api-boom", ExplodingApi.as_view()),
    path("django-boom", exploding_django_view),
    path("api-throttled", ThrottledApi.as_view()),
]
handler500 = "tulip.errors.handler500"
handler404 = "tulip.errors.handler404"
