"""HTTP/1.1 keep-alive for the local moto server (the server-side half of its fixes).

Why: werkzeug's development server, which moto runs on, ends every response with ``Connection:
close`` ("Python's http.server ... doesn't know how to drain the stream before the next request
line"). So every AWS call of every TulipBroker process paid a new TCP connection on both sides and
a new server thread: measured here, an idle ListTables round trip cost ~10 ms, and urllib3 logged
"Resetting dropped connection" on all but the first call of a client. AWS endpoints keep
connections alive, so the stand-in charged each call a cost the real service does not, and
charged it to the accept path's latency SLO above all (two AWS calls per accepted order).

Fix: read the request body in full before the application sees it (its length is known and
bounded) and hand the application an in-memory copy. The socket is then positioned exactly at the
next request line whatever the application read, which is the condition werkzeug could not
guarantee; the connection is kept. Werkzeug also discards whatever the socket holds after each
response (safe only because it always closed): on a kept connection that would swallow the
client's next request, so that read finds the end of the body instead. A request whose body
length is unknown (chunked) or larger than MAX_PRELOAD_BYTES keeps werkzeug's behaviour
(the connection closes after it).
"""

from __future__ import annotations

import io
import socket
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

# DynamoDB caps a request at 16 MB (BatchWriteItem), SQS at 1 MiB per message batch; S3 uploads of
# load-test reports are small. Larger bodies stream through unchanged and close the connection.
MAX_PRELOAD_BYTES = 16 * 1024 * 1024


class _BodyEnd:
    """The request stream as werkzeug's run_wsgi sees it. On a kept connection the body is
    already consumed, so reads end (werkzeug's post-response discard then stops at once and the
    next request stays in the socket); otherwise everything goes to the socket's stream."""

    def __init__(self, handler: KeepAliveRequestHandler, stream: Any) -> None:
        self.handler = handler
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if self.handler.keep_alive:
            return b""
        data: bytes = self.stream.read(size)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler with keep-alive connections (see the module docstring)."""

    keep_alive = False  # per request: the body was preloaded, the connection may be reused

    def setup(self) -> None:
        super().setup()
        # Werkzeug writes the headers and the body in separate sends. On a kept connection Nagle's
        # algorithm holds the body until the client ACKs the headers, and the client delays that
        # ACK (~40 ms on Linux): every call would wait for it. A closing connection flushed at once.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        self.socket_stream = self.rfile
        self.rfile = _BodyEnd(self, self.socket_stream)  # type: ignore[assignment]  # duck-typed
        try:
            super().run_wsgi()
        finally:
            self.rfile = self.socket_stream

    def make_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().make_environ()
        self.keep_alive = False
        if environ.get("wsgi.input_terminated"):
            return environ  # chunked: werkzeug de-chunks from the socket; the connection closes
        declared = environ.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit() or int(declared) > MAX_PRELOAD_BYTES:
            return environ
        length = int(declared)
        body = self.socket_stream.read(length) if length else b""  # run_wsgi set socket_stream
        if len(body) != length:  # the client went away mid-body
            self.close_connection = True
            return environ
        environ["wsgi.input"] = io.BytesIO(body)
        self.keep_alive = True
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if (self.keep_alive and not self.close_connection and keyword.lower() == "connection"
                and value.lower() == "close"):
            # HTTP/1.1 keeps the connection by default. A client's own "Connection: close" set
            # close_connection in parse_request: then the header goes out and the socket closes.
            return
        super().send_header(keyword, value)
