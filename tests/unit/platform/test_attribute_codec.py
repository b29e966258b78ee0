"""tulip/attribute_codec.py: the same request bodies and parsed responses as botocore's own JSON
serializer and parser, for any attribute value (binary, sets, nested maps and lists) and for the
values the direct conversion leaves to botocore (which then raises what it always raised)."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
from botocore import parsers, serialize
from hypothesis import given, settings
from hypothesis import strategies as st

from tulip import attribute_codec

SESSION = botocore.session.get_session()
DYNAMODB = SESSION.get_service_model("dynamodb")
STREAMS = SESSION.get_service_model("dynamodbstreams")

text = st.text(max_size=12)
binary = st.binary(max_size=12)
scalars = st.one_of(
    st.builds(lambda v: {"S": v}, text),
    st.builds(lambda v: {"N": v}, st.from_regex(r"-?\d{1,6}", fullmatch=True)),
    st.builds(lambda v: {"B": v}, st.one_of(binary, text)), st.just({"NULL": True}),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.builds(lambda v: {"SS": v}, st.lists(text, max_size=3)),
    st.builds(lambda v: {"NS": v}, st.lists(st.from_regex(r"\d{1,4}", fullmatch=True), max_size=3)),
    st.builds(lambda v: {"BS": v}, st.lists(binary, max_size=3)))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.builds(lambda v: {"M": v}, st.dictionaries(text, inner, max_size=3)),
    st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3))), max_leaves=12)
# What the direct conversion does not take: botocore decides (an answer or an exception).
odd = st.one_of(
    st.just({}), st.just({"S": "a", "N": "1"}), st.just({"X": "1"}), st.just({"S": None}),
    st.just({"SS": "abc"}), st.just({"M": [1]}), st.just({"L": "ab"}), st.just("plain"),
    st.just({"BS": ["YQ=="]}), st.just({"M": {"k": {"Q": 1}}}))
items = st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6)


def _outcome(call: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", call(*args)
    except Exception as exc:  # what botocore raises for a value it cannot take
        return "raises", type(exc)


def _requests(item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("PutItem", {"TableName": "t", "Item": item}),
        ("TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": "t", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": "t", "Key": item, "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {":a": item.get(next(iter(item), ""), {"S": "x"})}}}]}),
        ("Query", {"TableName": "t", "KeyConditionExpression": "pk = :p",
                   "ExpressionAttributeValues": item, "ExclusiveStartKey": item}),
        ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": item}},
                                                   {"DeleteRequest": {"Key": item}}]}}),
    ]


@settings(max_examples=300, deadline=None)
@given(items, st.lists(odd, max_size=2))
def test_requests_serialize_to_botocores_bytes(item: dict[str, Any], extra: list[Any]) -> None:
    stock, direct = serialize.JSONSerializer(), attribute_codec.AttributeSerializer()
    mixed = {**item, **{f"odd{i}": value for i, value in enumerate(extra)}}
    for operation, params in _requests(item) + _requests(mixed):
        model = DYNAMODB.operation_model(operation)
        assert _outcome(direct.serialize_to_request, params, model) == \
            _outcome(stock.serialize_to_request, params, model), operation


def _wire(value: Any) -> Any:
    """An attribute value as DynamoDB sends it: binary members in base64."""
    body = serialize.JSONSerializer().serialize_to_request(
        {"TableName": "t", "Item": {"v": value}}, DYNAMODB.operation_model("PutItem"))["body"]
    return json.loads(body)["Item"]["v"]


def _parse(parser: parsers.ResponseParser, model: Any, body: dict[str, Any]) -> Any:
    response = {"body": json.dumps(body).encode(), "headers": {}, "status_code": 200}
    return parser.parse(response, model.output_shape)


@settings(max_examples=300, deadline=None)
@given(items, st.lists(st.one_of(odd, st.none()), max_size=2))
def test_responses_parse_to_botocores_values(item: dict[str, Any], extra: list[Any]) -> None:
    clean = {name: _wire(value) for name, value in item.items()}
    for wire in (clean, {**clean, **{f"odd{i}": value for i, value in enumerate(extra)}}):
        _parses_alike(wire)


def _parses_alike(wire: dict[str, Any]) -> None:
    record = {"eventID": "1", "eventName": "MODIFY", "dynamodb": {
        "ApproximateCreationDateTime": 1765000000.123, "Keys": wire, "NewImage": wire,
        "OldImage": wire, "SequenceNumber": "1", "SizeBytes": 10,
        "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    cases = [(DYNAMODB, "GetItem", {"Item": wire}),
             (DYNAMODB, "Query", {"Items": [wire, wire], "Count": 2, "LastEvaluatedKey": wire}),
             (DYNAMODB, "BatchGetItem", {"Responses": {"t": [wire]}, "UnprocessedKeys": {}}),
             (STREAMS, "GetRecords", {"Records": [record], "NextShardIterator": "i"})]
    for service, operation, body in cases:
        model = service.operation_model(operation)
        assert _outcome(_parse, attribute_codec.AttributeParser(), model, body) == \
            _outcome(_parse, parsers.JSONParser(), model, body), operation


def test_install_gives_new_clients_the_direct_classes() -> None:
    attribute_codec.install()
    assert type(serialize.create_serializer("json", include_validation=False)) is \
        attribute_codec.AttributeSerializer
    assert type(parsers.ResponseParserFactory().create_parser("json")) is \
        attribute_codec.AttributeParser


def test_a_binary_member_round_trips_through_base64() -> None:
    """The one member whose wire form differs from the caller's."""
    model = DYNAMODB.operation_model("GetItem")
    body = attribute_codec.AttributeSerializer().serialize_to_request(
        {"TableName": "t", "Key": {"k": {"B": b"\x00\xff"}}}, model)["body"]
    assert json.loads(body)["Key"] == {"k": {"B": "AP8="}}
    parsed = _parse(attribute_codec.AttributeParser(), model, {"Item": {"k": {"BS": ["AP8="]}}})
    assert parsed["Item"] == {"k": {"BS": [b"\x00\xff"]}}
