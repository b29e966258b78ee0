"""The wire between the real code and the simulated services, and the clients it is called with.

`tulip.aws.client(service, cfg, profile)` returns a `SimClient` (boto3's method names) and
PynamoDB's `Connection.client` a `SimBotocore` (PynamoDB calls its `_make_api_call`); both hand
the request dict the real code built to `Network.call`, which does what botocore and the network
do: it sends a TransactWriteItems with a ClientRequestToken (botocore fills one in), takes time on
the wire in each direction (other threads run meanwhile), injects the seed's faults (throttles,
transaction conflicts, lost responses, duplicated sends) and retries what botocore's standard
mode retries (throttling, transient errors, lost connections: up to 4 attempts, jittered
exponential backoff). The request reaches the current process's region, or the region a client
was made for (`tulip.aws.client(..., region=...)`: the replicator reads and writes every region).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from tests.sim.ddb.service import DynamoError
from tests.sim.faults import Faults
from tests.sim.sqs import SqsError
from tests.sim.world import World

ATTEMPTS = 4  # botocore standard mode as configured (tulip/aws.py; PynamoDB's max_retry_attempts=3)
THROTTLING = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                        "Throttling", "RequestLimitExceeded", "TransactionInProgressException"})
TRANSIENT = frozenset({"InternalServerError", "ServiceUnavailable", "InternalFailure"})
LATENCY_S = {"dynamodb": (0.002, 0.008), "dynamodbstreams": (0.002, 0.008),
             "sqs": (0.004, 0.015)}
# Global Tables' replication is AWS's own, not the product's: the process standing in for it
# (devstack/replicator.py) gets the wire's latency but none of its faults.
FAULTLESS = frozenset({"replicator"})

DYNAMODB_METHODS = {"get_item": "GetItem", "put_item": "PutItem", "update_item": "UpdateItem",
                    "delete_item": "DeleteItem", "query": "Query", "scan": "Scan",
                    "batch_get_item": "BatchGetItem", "batch_write_item": "BatchWriteItem",
                    "transact_write_items": "TransactWriteItems",
                    "describe_table": "DescribeTable"}
SQS_METHODS = {"send_message": "SendMessage", "receive_message": "ReceiveMessage",
               "delete_message": "DeleteMessage", "delete_message_batch": "DeleteMessageBatch",
               "change_message_visibility": "ChangeMessageVisibility"}
STREAMS_METHODS = {"describe_stream": "DescribeStream", "get_shard_iterator": "GetShardIterator",
                   "get_records": "GetRecords"}
METHODS = {"dynamodb": DYNAMODB_METHODS, "sqs": SQS_METHODS, "dynamodbstreams": STREAMS_METHODS}


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request as the service saw it, and what it answered (for the differential test)."""

    service: str
    operation: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    error: str | None


def client_error(code: str, message: str, operation: str,
                 reasons: list[dict[str, str]] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message},
                                "ResponseMetadata": {"HTTPStatusCode": 400}}
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, operation)  # type: ignore[arg-type]


def retryable(error: Exception) -> bool:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in THROTTLING | TRANSIENT
    return isinstance(error, BotoCoreError)


@dataclass
class Network:
    world: World
    faults: Faults
    record: list[Exchange] | None = None
    # Planted bugs that live in requests PynamoDB builds (tests/sim/planted.py) rewrite them here.
    rewrites: list[Callable[[str, dict[str, Any]], dict[str, Any]]] = field(default_factory=list)
    throttled_until: dict[str, float] = field(default_factory=dict)  # process name -> burst end
    regions: dict[str, Any] = field(default_factory=dict)  # name -> tests.sim.actors.Region

    # ---------------------------------------------------------------- calls
    def call(self, service: str, operation: str, request: dict[str, Any],
             attempts: int = ATTEMPTS, region: str | None = None) -> dict[str, Any]:
        for rewrite in self.rewrites:
            request = rewrite(operation, request)
        if operation == "TransactWriteItems" and "ClientRequestToken" not in request:
            request = {**request, "ClientRequestToken": self._token()}
        for attempt in range(attempts):
            try:
                return self._attempt(service, operation, request, region)
            except (ClientError, BotoCoreError) as error:
                if attempt + 1 >= attempts or not retryable(error):
                    raise
                self.world.pass_time(self.world.rng.uniform(0.0, min(20.0, 2.0 ** attempt)))
        raise AssertionError("unreachable")

    def _token(self) -> str:
        return f"{self.world.rng.getrandbits(128):032x}"

    def _attempt(self, service: str, operation: str, request: dict[str, Any],
                 region: str | None) -> dict[str, Any]:
        low, high = LATENCY_S[service]
        half = self.world.rng.uniform(low, high) / 2
        self.world.pass_time(half)
        fault = self._wire_fault(service, operation)
        refused = self._refusal(fault, operation, request)
        if refused is not None:
            self.world.pass_time(half)
            raise refused
        response, error = self._serve(service, operation, request, region)
        if fault == "duplicate":
            self._serve(service, operation, request, region)
        self.world.pass_time(half)
        if fault == "drop":
            raise ReadTimeoutError(endpoint_url=f"https://{service}.sim")
        if error is not None:
            raise error
        assert response is not None
        return response

    # ---------------------------------------------------------------- faults
    def _wire_fault(self, service: str, operation: str) -> str | None:
        current = self.world.current
        process = current.process.name if current is not None else ""
        if current is not None and current.process.kind in FAULTLESS:
            return None
        rates = self.faults.rates
        if service == "dynamodb" and self.throttled_until.get(process, 0.0) > self.world.now:
            self.faults.note("wire:throttle_burst")
            return "throttle"
        if service == "dynamodb" and self.faults.hit("wire:throttle", rates.throttle):
            return "throttle"
        if operation == "TransactWriteItems" and self.faults.hit("wire:transaction_conflict",
                                                                 rates.conflict):
            return "conflict"
        if operation == "SendMessage" and self.faults.hit("wire:duplicate_send", rates.duplicate):
            return "duplicate"
        if self.faults.hit(f"wire:lost_response:{service}", rates.drop):
            return "drop"
        return None

    def _refusal(self, fault: str | None, operation: str,
                 request: dict[str, Any]) -> ClientError | None:
        if fault == "throttle":
            return client_error("ProvisionedThroughputExceededException", "The level of "
                                "configured provisioned throughput for the table was exceeded.",
                                operation)
        if fault == "conflict":
            items = request.get("TransactItems", [])
            victim = self.world.rng.randrange(len(items)) if items else 0
            reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for "
                        "the item"} if i == victim else {"Code": "None"} for i in range(len(items))]
            return client_error("TransactionCanceledException", "Transaction cancelled, please "
                                "refer cancellation reasons for specific reasons", operation,
                                reasons)
        return None

    # ---------------------------------------------------------------- the services
    def _serve(self, service: str, operation: str, request: dict[str, Any],
               region_name: str | None = None,
               ) -> tuple[dict[str, Any] | None, ClientError | None]:
        current = self.world.current
        assert current is not None, "a simulated call outside any simulated thread"
        region = self.regions[region_name] if region_name else current.process.region
        try:
            if service == "dynamodb":
                region.ddb.origin = current.process.kind
                response = region.ddb.call(operation, request)
            elif service == "dynamodbstreams":
                response = region.streams.call(operation, request)
            else:
                response = region.sqs.call(operation, request)
        except DynamoError as exc:
            self._remember(service, operation, request, None, exc.code)
            return None, client_error(exc.code, exc.message, operation, exc.reasons)
        except SqsError as exc:
            self._remember(service, operation, request, None, exc.code)
            return None, client_error(exc.code, exc.message, operation)
        self._remember(service, operation, request, response, None)
        return response, None

    def _remember(self, service: str, operation: str, request: dict[str, Any],
                  response: dict[str, Any] | None, error: str | None) -> None:
        if self.record is not None:
            self.record.append(Exchange(service, operation, request, response, error))


class SimClient:
    """What `tulip.aws.client` returns in the simulation: boto3's method names, the wire above."""

    def __init__(self, network: Network, service: str, region: str | None = None) -> None:
        self._network = network
        self._service = service
        self._methods = METHODS[service]
        self._region = region

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = self.__dict__["_methods"].get(name)
        if operation is None:
            raise AttributeError(f"the simulated {self._service} client has no {name}")
        return functools.partial(self._call, operation)

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        return self._network.call(self._service, operation, request, region=self._region)


class SimBotocore:
    """What PynamoDB's `Connection.client` returns in the simulation."""

    def __init__(self, network: Network) -> None:
        self._network = network
        self.meta = SimpleNamespace(endpoint_url="https://dynamodb.sim")

    def _make_api_call(self, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        return self._network.call("dynamodb", operation_name, operation_kwargs)
