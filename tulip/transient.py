"""Which failures of a dependency (DynamoDB, SQS, Redis) are transient: the request may be retried
as it was and succeed. The API answers them 503 `unavailable` with Retry-After (docs/api.md,
"Errors"), not 500: every write is safe to retry with the same idempotency key (a retry writes the
order or replays it), so telling the client to retry is telling the truth.

Anything else (a malformed request to AWS, a missing table) is a defect of ours and stays a 500.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pynamodb.exceptions import PynamoDBException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Error codes AWS documents as "retry": throttling, capacity, contention and server faults.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSThrottlingException",
})
# A cancelled transaction is transient when every item that failed failed for one of these
# (a condition that failed is an answer, not a fault: the callers handle it).
TRANSIENT_CANCELLATION_REASONS = frozenset({
    "ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict", "RequestLimitExceeded",
})
UNWRAP_LIMIT = 4  # PynamoDB wraps botocore once; bound the walk down the cause chain anyway


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code behind `exc` (a PynamoDB error's cause), None when there is none (a
    timeout, a refused connection). PynamoDB's own `cause_response_code` raises AttributeError
    when the cause is a read timeout (botocore's carries `response = None`): a timed-out accept
    transaction became a 500 that way, which the seeded simulation caught (seed 102)."""
    cause = _root(exc)
    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code", "")) or None
    return None


def _root(exc: BaseException) -> BaseException:
    for _ in range(UNWRAP_LIMIT):
        if isinstance(exc, PynamoDBException) and exc.cause is not None:
            exc = exc.cause
            continue
        break
    return exc


def is_transient(exc: BaseException) -> bool:
    exc = _root(exc)
    if isinstance(exc, BotoConnectionError | HTTPClientError | RedisConnectionError | RedisTimeoutError):
        return True
    if isinstance(exc, ClientError):
        return _transient_client_error(exc)
    return False


def _transient_client_error(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    if code in TRANSIENT_CODES:
        return True
    if code == "TransactionCanceledException":
        reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
        failed = [reason for reason in reasons if reason not in (None, "None")]
        return bool(failed) and all(reason in TRANSIENT_CANCELLATION_REASONS for reason in failed)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return isinstance(status, int) and status >= 500
