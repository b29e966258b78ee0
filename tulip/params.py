"""Request parsing shared by the APIs: query parameters (a bad value is a 400 naming the
parameter) and JSON bodies (the one reader of every POST body: 415 for a body that is declared as
something else, 400 for one that is not JSON or is nested or numbered past the limits)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tulip.errors import UnsupportedMediaType, ValidationFailed


def int_param(name: str, value: str | None, default: int | None, low: int, high: int) -> int:
    """`value` as an int in [low, high]; `default` when absent (None: the parameter is required)."""
    if value is None or value == "":
        if default is None:
            raise ValidationFailed(f"{name} is required.", {name: ["required"]})
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer.", {name: ["must be an integer"]}) from None
    if not low <= number <= high:
        raise ValidationFailed(f"{name} is out of range.", {name: [f"must be {low}..{high}"]})
    return number


# ---------------------------------------------------------------------- JSON request bodies
# Every bound a JSON body is held to before any field is looked at (docs/api.md, "Limits"). The
# body's size is capped earlier (tulip/middleware.py, API_MAX_BODY_BYTES).
MAX_JSON_DEPTH = 32  # arrays and objects nested in one another; an order is 1 deep
MAX_NUMBER_CHARS = 64  # characters of one JSON number literal; the largest valid field has 10
JSON_MEDIA_TYPES = ("application/json",)


class _NotJson(ValueError):
    """A body the JSON decoder accepts but the contract does not: NaN/Infinity, huge numbers."""


def _number(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise _NotJson(f"a number has more than {MAX_NUMBER_CHARS} characters")
        return convert(text)

    return parse


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")


_parse_int = _number(int)
_parse_float = _number(float)


def _too_deep(value: Any) -> bool:
    """Iterative, so a deep structure cannot exhaust the stack here either."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > MAX_JSON_DEPTH:
                    return True
                pending.append((child, depth + 1))
    return False


def media_type_ok(content_type: str | None) -> bool:
    """No Content-Type (read as JSON), application/json (any parameters) or a +json type."""
    if not content_type or not content_type.strip():
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_MEDIA_TYPES or (media.startswith("application/") and media.endswith("+json"))


def json_body(raw: bytes, content_type: str | None) -> Any:
    """A request body as JSON, or the documented 415/400 (docs/api.md, "Conventions"): a declared
    Content-Type other than JSON is a 415; a body that is not JSON, nests deeper than
    MAX_JSON_DEPTH or holds a number longer than MAX_NUMBER_CHARS is a 400. Never a 500: the
    decoder's RecursionError on a deeply nested body is one of these 400s. An empty body is {}."""
    if not media_type_ok(content_type):
        raise UnsupportedMediaType(
            "Unsupported media type: send the body as application/json.",
            {"contentType": [f"must be application/json, not {content_type.split(';')[0].strip()[:64]}"
                             if content_type else "must be application/json"]})
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=_constant)
    except RecursionError:
        raise _too_deep_error() from None
    except _NotJson as exc:
        raise ValidationFailed("The body is not valid JSON.", {"body": [str(exc)]}) from None
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("The body is not valid JSON.", {"body": ["not valid JSON"]}) from None
    if _too_deep(value):
        raise _too_deep_error()
    return value


def _too_deep_error() -> ValidationFailed:
    return ValidationFailed("The body nests too deeply.",
                            {"body": [f"nests deeper than {MAX_JSON_DEPTH} levels"]})
