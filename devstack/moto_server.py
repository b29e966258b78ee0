"""Run the local moto server (the AWS stand-in) with TulipBroker's moto fixes applied.

    python -m devstack.moto_server --host 127.0.0.1 --port 5000 [--unpatched] [--meter]

Threaded werkzeug server (several clients hit it at once), in the foreground. Prints exactly one
line ``moto ready on http://HOST:PORT`` once it answers HTTP, and exits 0 on SIGTERM/SIGINT.
``--unpatched`` serves stock moto on werkzeug's stock handler (tests and benchmarks only; the
patched server also keeps HTTP connections alive, ``keep_alive``); ``--meter`` lets a request ask for
its own cost in Python calls (tests only, ``work_meter``). Refuses to start (exit 2, one line)
if the installed moto is not the release the fixes were written against.
Never imports Django.

Bounds and windows of the fixes (environment of this process; defaults are AWS's):
TULIP_MOTO_FIFO_DEDUPE_WINDOW_S (300), TULIP_MOTO_STREAM_ITERATOR_TTL_S (900),
TULIP_MOTO_STREAM_MAX_ITERATORS (10000), TULIP_MOTO_STREAM_RETENTION_S (86400),
TULIP_MOTO_STREAM_MAX_RECORDS (100000; AWS has no count bound, this keeps a long load test's
memory flat).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from types import FrameType
from typing import Any

from devstack import moto_patches
from devstack.work_meter import CallMeter
from tulip.heap import freeze_startup_heap

READY_TIMEOUT_S = 30.0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.moto_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--unpatched", action="store_true", help="serve stock moto (tests and benchmarks only)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request (werkzeug access log)")
    parser.add_argument(
        "--meter", action="store_true", help="count the calls of requests that ask (tests only, work_meter)"
    )
    return parser.parse_args(argv)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is serving
    except OSError:
        return False


def _build_app(args: argparse.Namespace) -> tuple[Any, type[Any], list[str]]:
    """The WSGI app and request handler to serve, and the names of the fixes they carry."""
    applied: list[str] = [] if args.unpatched else moto_patches.apply_all()

    # Imported after patching so every backend module sees the patched classes.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    handler: type[MotoRequestHandler] = MotoRequestHandler
    if not args.unpatched:
        from devstack.keep_alive import KeepAliveRequestHandler

        handler = KeepAliveRequestHandler
        applied.append("http_keep_alive")
    app: Any = DomainDispatcherApplication(create_backend_app)
    if args.meter:
        app = CallMeter(app)
    if not args.unpatched:
        # Load every service's backend and model now, then keep the start-up heap out of the
        # cyclic collector's walks (tulip/heap.py): stock moto pays both while serving. Imported
        # here, after patching: warm_up imports moto's core modules.
        from devstack.warm_up import warm_up

        warm_up(app, f"http://{args.host}:{args.port}", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        freeze_startup_heap()
        applied.append("gc_freeze_startup")
    return app, handler, applied


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return stop


def _wait_until_answering(url: str, stop: threading.Event) -> bool:
    """True once the server answers HTTP (or a stop was asked for); False after READY_TIMEOUT_S."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _answers(url):
        if stop.is_set():
            break
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        moto_patches.check_moto_version()
    except moto_patches.MotoVersionMismatch as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 2

    if not args.verbose:
        # One access-log line per request on stderr costs real time under load tests.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app, handler, applied = _build_app(args)
    from werkzeug.serving import make_server

    server = make_server(args.host, args.port, app, threaded=True, request_handler=handler)
    stop = _stop_on_signals()
    serving = threading.Thread(target=server.serve_forever, name="moto-serve", daemon=True)
    serving.start()

    url = f"http://{args.host}:{server.server_port}"
    if not _wait_until_answering(url, stop):
        print(f"moto did not answer on {url} within {READY_TIMEOUT_S:.0f}s", file=sys.stderr, flush=True)
        server.shutdown()
        return 1
    if not stop.is_set():
        mode = "unpatched" if args.unpatched else f"fixes: {', '.join(applied) or 'none'}"
        print(f"moto ready on {url}", flush=True)
        print(f"moto {moto_patches.EXPECTED_MOTO_VERSION} ({mode})", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
