"""The error body in the OpenAPI document: one serializer for every app's endpoints (docs/api.md,
"Errors"), with the codes taken from tulip.errors so the document cannot drift from the code."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from tulip.errors import ApiError

_ERROR_CLASSES: list[type[ApiError]] = [ApiError, *ApiError.__subclasses__()]
ERROR_CODES = sorted({cls.code for cls in _ERROR_CLASSES} | {"internal"})


class ErrorDetailSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.ChoiceField(ERROR_CODES)
    message = serializers.CharField()
    details = serializers.DictField()
    correlationId = serializers.CharField()


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    error = ErrorDetailSerializer()


def error_doc(description: str) -> OpenApiResponse:
    """An error response in the OpenAPI document: the one error body, with what causes it."""
    return OpenApiResponse(ErrorSerializer, description=description)
