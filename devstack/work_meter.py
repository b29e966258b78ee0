"""Count the Python function calls one request costs the moto server: work, not time.

The local-stack tests prove that a fix removes a cost that grows (with table size, with items per
transaction, with records per GetRecords, with queue depth, with the length of a long poll). Timing
that on a shared 2-core machine is noise; counting the interpreter's function calls while the
server handles the request is repeatable to within a few per cent whatever else the machine does,
and every defect those tests document is interpreted Python work (deep copies, re-parsing,
generic serialisers, polling loops).

Only the tests' servers enable it (``moto_server --meter``), and only a request carrying the header
``X-Tulip-Meter: calls`` is counted, so the cost of ``sys.setprofile`` is paid by the requests a
test measures and by nothing else. The answer carries ``X-Tulip-Calls: <count>``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

METER_HEADER = "X-Tulip-Meter"
CALLS_HEADER = "X-Tulip-Calls"
_ENVIRON_KEY = "HTTP_" + METER_HEADER.upper().replace("-", "_")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CallMeter:
    """WSGI middleware: counts Python calls made by this request's thread while it is handled."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get(_ENVIRON_KEY) != "calls":
            return self.app(environ, start_response)
        calls = 0

        def profile(frame: FrameType, event: str, arg: object) -> None:
            nonlocal calls
            if event == "call":
                calls += 1

        started: list[tuple[str, list[tuple[str, str]], Any]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started.append((status, list(headers), exc_info))

        # setprofile is per thread: werkzeug's threaded server runs each connection on its own
        # thread, one request at a time, so other clients' requests are not counted.
        previous = sys.getprofile()
        sys.setprofile(profile)
        try:
            body = b"".join(self.app(environ, capture))
        finally:
            sys.setprofile(previous)
        assert len(started) == 1, "the app must start exactly one response"
        status, headers, exc_info = started[0]
        start_response(status, [*headers, (CALLS_HEADER, str(calls))], exc_info)
        return [body]
