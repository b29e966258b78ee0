"""tulip/transient.py: which dependency failures the API answers 503 (retry) rather than 500."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError, ReadTimeoutError
from pynamodb.exceptions import PutError, TableDoesNotExist, TransactWriteError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from tulip.transient import aws_error_code, is_transient


def _client_error(code: str, status: int = 400, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}, **extra}, "Op")


def _cancelled(*codes: str) -> ClientError:
    return _client_error("TransactionCanceledException",
                         CancellationReasons=[{"Code": code} for code in codes])


@pytest.mark.parametrize("exc", [
    _client_error("ProvisionedThroughputExceededException"),
    _client_error("ThrottlingException"),
    _client_error("RequestLimitExceeded"),
    _client_error("InternalServerError", 500),
    _client_error("SomethingNew", 503),
    _cancelled("None", "ThrottlingError", "None"),
    _cancelled("TransactionConflict", "ThrottlingError"),
    PutError("wrapped", cause=_client_error("ThrottlingException")),
    TransactWriteError("wrapped", cause=_cancelled("ThrottlingError")),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    RedisConnectionError("gone"),
])
def test_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [
    _client_error("ValidationException"),
    _client_error("ConditionalCheckFailedException"),
    _client_error("ResourceNotFoundException"),
    _cancelled("ConditionalCheckFailed", "None"),
    _cancelled("ConditionalCheckFailed", "ThrottlingError"),  # an answer: the callers handle it
    _cancelled("None", "None"),
    PutError("wrapped", cause=_client_error("ValidationException")),
    PutError("no cause"),
    TableDoesNotExist("Orders"),
    ParamValidationError(report="bad"),
    ResponseError("WRONGTYPE"),
    RuntimeError("a bug"),
])
def test_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_the_error_code_of_a_timed_out_write_is_none_not_an_attribute_error() -> None:
    """PynamoDB's cause_response_code raises on a timeout's cause; ours answers None."""
    timed_out = TransactWriteError("wrapped", cause=ReadTimeoutError(endpoint_url="http://x"))
    with pytest.raises(AttributeError):
        _ = timed_out.cause_response_code
    assert aws_error_code(timed_out) is None
    assert is_transient(timed_out)
    assert aws_error_code(PutError("w", cause=_client_error("ConditionalCheckFailedException"))) \
        == "ConditionalCheckFailedException"
    assert aws_error_code(PutError("no cause")) is None
