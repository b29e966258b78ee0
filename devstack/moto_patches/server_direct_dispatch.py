"""Fix ``server_direct_dispatch``: DynamoDB, DynamoDB Streams and SQS calls skip Flask.

Why (moto 5.2.5): the server hands every request to ``DomainDispatcherApplication``, which finds
the service, then to a Flask app per service, whose URL map finds moto's view, which wraps the
handler's ``(status, headers, body)`` in a Flask response. For the JSON-protocol calls this stack
makes all the time (the accept path's transaction and send; the matcher's receive, commit and
delete; the projector's and replicator's stream reads), every hop of that is fixed work: which
handler class serves them is already named by the request's ``X-Amz-Target`` header, and the
handler's own ``dispatch`` does everything moto does with the request. In a py-spy profile of
moto under the stress load profile (100 req/s offered, ``--gil``), the dispatcher and Flask
(application context, routing, the view wrapper, the response object) were ~14 % of moto's CPU
(docs/benchmarks.md, "Four cuts, and what the rest of the CPU is").

Fix: a POST to ``/`` whose ``X-Amz-Target`` names DynamoDB, DynamoDB Streams or SQS goes
straight to that service's handler class, with the same request type the Flask app would have
built (moto's ``BackendRequest``), the same URL and headers; its answer becomes the same Flask
response, and a ``ClientError`` the same 400. Everything else (S3, Cognito, CloudWatch, the
moto API, any other path or method) takes moto's unchanged route. The handler code, and every
other fix applied to it, runs as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from ._util import replace

NAME = "server_direct_dispatch"


def _handlers() -> dict[str, Any]:
    """X-Amz-Target prefix -> the handler class moto's URL map would pick for it."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.sqs.responses import SQSResponse

    return {"DynamoDB_20120810": DynamoHandler, "DynamoDBStreams_20120810": DynamoDBStreamsHandler,
            "AmazonSQS": SQSResponse}


def _handler_for(environ: dict[str, Any], handlers: dict[str, Any]) -> Any:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if not target or environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/":
        return None
    return handlers.get(target.partition(".")[0])


def _direct(handler: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """What moto's Flask view does for this handler (moto.core.utils.convert_to_flask_response),
    without the Flask app around it."""
    from botocore.exceptions import ClientError
    from flask import Response
    from moto.moto_api import recorder
    from moto.moto_server.werkzeug_app import BackendRequest
    from moto.settings import DISABLE_GLOBAL_CORS

    request = BackendRequest(environ)
    try:
        recorder._record_request(request)
        result = handler.dispatch(request, request.raw_url, dict(request.headers))
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    response = Response(response=content, status=status, headers=headers)
    if not DISABLE_GLOBAL_CORS:  # as flask-cors answers every request of moto's Flask apps
        response.headers["Access-Control-Allow-Origin"] = "*"
    answer: Iterable[bytes] = response(environ, start_response)
    return answer


def _call(original: Callable[..., Any]) -> Callable[..., Any]:
    handlers = _handlers()

    @functools.wraps(original)
    def __call__(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        handler = _handler_for(environ, handlers)
        if handler is None:
            return original(self, environ, start_response)
        return _direct(handler, environ, start_response)

    __call__.__tulip_direct_dispatch__ = True  # type: ignore[attr-defined]
    return __call__


def apply() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication.__call__, "__tulip_direct_dispatch__", False):
        return
    replace(DomainDispatcherApplication, "__call__", _call(DomainDispatcherApplication.__call__))
