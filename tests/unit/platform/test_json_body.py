"""tulip.params.json_body, the one reader of every POST body (docs/api.md, "Limits"): deep nesting,
huge numbers, NaN and a non-JSON Content-Type are the documented 400/415, never a 500."""

from __future__ import annotations

import json

import pytest

from tulip.errors import UnsupportedMediaType, ValidationFailed
from tulip.params import MAX_JSON_DEPTH, MAX_NUMBER_CHARS, json_body, media_type_ok

ONE_PAST = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)


@pytest.mark.parametrize("raw", [b"[" * 16_000, b'{"a":' * 5_000, ONE_PAST],
                         ids=["16k-brackets", "5k-objects", "one-past-the-limit"])
def test_deep_nesting_is_a_400_naming_the_limit(raw: bytes) -> None:
    with pytest.raises(ValidationFailed) as caught:
        json_body(raw, "application/json")
    assert caught.value.details == {"body": [f"nests deeper than {MAX_JSON_DEPTH} levels"]}


def test_nesting_up_to_the_limit_is_read() -> None:
    raw = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_body(raw, None) is not None


@pytest.mark.parametrize("literal", ["1" * (MAX_NUMBER_CHARS + 1), "9" * 5000, "1." + "5" * 100,
                                     "NaN", "Infinity", "-Infinity"])
def test_huge_numbers_and_non_json_constants_are_a_400(literal: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        json_body(f'{{"qty": {literal}}}'.encode(), None)
    assert "body" in caught.value.details


def test_ordinary_numbers_are_read_as_before() -> None:
    assert json_body(b'{"qty": 10, "price": 101.25, "big": 1e400}', None) == {
        "qty": 10, "price": 101.25, "big": float("inf")}


@pytest.mark.parametrize("content_type", [None, "", "application/json", "application/json; charset=utf-8",
                                          "APPLICATION/JSON", "application/merge-patch+json"])
def test_json_media_types_are_accepted(content_type: str | None) -> None:
    assert media_type_ok(content_type)
    assert json_body(b'{"a": 1}', content_type) == {"a": 1}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_other_media_types_are_a_415(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        json_body(json.dumps({"a": 1}).encode(), content_type)
    assert caught.value.status == 415 and caught.value.code == "validation_error"
    assert "contentType" in caught.value.details


def test_empty_body_is_an_empty_object_and_bad_bytes_are_a_400() -> None:
    assert json_body(b"  ", "application/json") == {}
    for raw in (b"{not json", b"\xff\xfe"):
        with pytest.raises(ValidationFailed):
            json_body(raw, "application/json")
