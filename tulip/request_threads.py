"""Django's ASGI handler with its request threads reused (docs/benchmarks.md, "Accept path over
HTTP").

Django runs each request's sync code (the view, the request signals' receivers) on a thread of
its own, thread-sensitively: one request, one thread, so thread-bound state such as the database
connection stays with the request. Stock, that thread is created for the request and joined by
yet another thread when the request ends: two thread starts per request, a seventh of the ASGI
process's CPU per accept at load. Here each request borrows a single-thread executor from a pool
and gives it back when it ends (asgiref's ThreadSensitiveContext with an executor the caller owns):
still one thread per request at a time, as a threaded WSGI server reuses its threads. The pool
keeps at most IDLE_MAX idle; a burst beyond that makes threads that go when it passes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

IDLE_MAX = 64


class RequestThreads:
    def __init__(self, idle_max: int) -> None:
        self._idle: list[ThreadPoolExecutor] = []
        self._idle_max = idle_max
        self._lock = threading.Lock()

    def borrow(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        # A call cut short (a client that went away) may still be running on it: the next
        # request's calls queue behind it on the executor's one thread, never beside it.
        with self._lock:
            if len(self._idle) < self._idle_max:
                self._idle.append(executor)
                return
        executor.shutdown(wait=False)


class PooledThreadsASGIHandler(ASGIHandler):
    threads = RequestThreads(IDLE_MAX)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # as Django's own handler
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.threads.borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(executor)
