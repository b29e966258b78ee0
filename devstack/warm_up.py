"""The moto server's warm-up: before it serves, one read-only request to every AWS service the
stack uses, answered in-process by the WSGI app, so moto loads each backend and botocore service
model at start-up. Those objects then live in the heap that the server freezes (tulip/heap.py),
instead of arriving with the first real requests, slowing them and sitting in every later full
collection's walk.

The requests are built by botocore itself (a before-send hook hands each prepared request to the
app instead of the network), so they are exactly what a client would send."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

import boto3
from moto.core.botocore_stubber import MockRawResponse
from werkzeug.test import Client

from tulip.aws import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY

if TYPE_CHECKING:
    from devstack.provision import AwsService

# (service, operation, parameters): one cheap list call per service the stack talks to.
WARM_CALLS: tuple[tuple[AwsService, str, dict[str, Any]], ...] = (
    ("dynamodb", "list_tables", {}),
    ("dynamodbstreams", "list_streams", {}),
    ("sqs", "list_queues", {}),
    ("cognito-idp", "list_user_pools", {"MaxResults": 1}),
    ("s3", "list_buckets", {}),
    ("cloudwatch", "list_metrics", {}),
)


def warm_up(app: Any, base_url: str, region: str) -> list[AwsService]:
    """Send WARM_CALLS through `app`; returns the services that answered 2xx (one that does not
    is only not warmed: the first real request then loads it, as before)."""
    from botocore.awsrequest import AWSResponse

    wsgi = Client(app)

    def answer(request: Any, **_: Any) -> Any:
        url = urllib.parse.urlsplit(request.url)
        body = request.body or b""
        headers = {name: value.decode() if isinstance(value, bytes) else value
                   for name, value in request.headers.items()}
        reply = wsgi.open(path=url.path or "/", query_string=url.query, method=request.method,
                          headers=headers,
                          data=body.encode() if isinstance(body, str) else body,
                          base_url=f"{url.scheme}://{url.netloc}")
        # botocore-stubs want HTTPHeaders; AWSResponse copies any mapping into its HeadersDict.
        return AWSResponse(request.url, reply.status_code, dict(reply.headers),  # type: ignore[arg-type]
                           MockRawResponse(reply.get_data()))

    session = boto3.session.Session()
    warmed = []
    for service, operation, parameters in WARM_CALLS:
        client = session.client(service, region_name=region, endpoint_url=base_url,
                                aws_access_key_id=LOCAL_ACCESS_KEY_ID,
                                aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY)
        client.meta.events.register("before-send", answer)
        try:
            getattr(client, operation)(**parameters)
        except Exception:  # warming is an optimisation; serving goes on regardless
            continue
        warmed.append(service)
    return warmed
