"""The ASGI handler's request threads (tulip/request_threads.py) and Django's middleware without
thread hops on API paths (tulip/django_middleware.py): requests reuse pooled threads, one request
per thread at a time; an API request crosses to a thread only for its view and the request
signals; pages keep Django's session, CSRF and security middleware."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import SyncToAsync

from tulip.request_threads import PooledThreadsASGIHandler, RequestThreads


def _scope(path: str, query: str = "") -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": query.encode(), "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 1234), "server": ("testserver", 80)}


async def _call(handler: PooledThreadsASGIHandler, path: str,
                query: str = "") -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []
    body_given = False

    async def receive() -> dict[str, Any]:
        nonlocal body_given
        if not body_given:
            body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # no disconnect while the request runs
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await handler(_scope(path, query), receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers: dict[str, str] = {}
    for name, value in start["headers"]:
        key = name.decode().lower()
        headers[key] = f"{headers[key]}, {value.decode()}" if key in headers else value.decode()
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


def test_the_pool_lends_back_what_it_was_given_and_keeps_a_bounded_few() -> None:
    threads = RequestThreads(idle_max=1)
    first, second = threads.borrow(), threads.borrow()
    assert first is not second
    threads.give_back(first)
    threads.give_back(second)  # over the bound: shut down, not kept
    assert second._shutdown and not first._shutdown
    assert threads.borrow() is first


@pytest.mark.urls("tests.unit.platform.thread_urls")
def test_requests_reuse_threads_but_never_share_one_at_a_time() -> None:
    handler = PooledThreadsASGIHandler()

    async def run() -> tuple[list[int], list[int]]:
        one_by_one = [json.loads((await _call(handler, "/thread"))[2])["thread"]
                      for _ in range(3)]
        together = await asyncio.gather(*(_call(handler, "/thread", "together=1")
                                          for _ in range(2)))
        return one_by_one, [json.loads(body)["thread"] for _, _, body in together]

    one_by_one, together = asyncio.run(run())
    assert len(set(one_by_one)) == 1  # one thread, lent to each request in turn
    assert len(set(together)) == 2  # two requests in flight: two threads


@pytest.mark.urls("tests.unit.platform.thread_urls")
def test_an_api_request_hops_only_for_its_view_and_signals_and_pages_keep_django() -> None:
    handler = PooledThreadsASGIHandler()
    hops: list[str] = []
    real_call = SyncToAsync.__call__

    async def counted(self: SyncToAsync, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await real_call(self, *args, **kwargs)

    with mock.patch.object(SyncToAsync, "__call__", counted):
        status, headers, _ = asyncio.run(_call(handler, "/thread"))
        api_hops = list(hops)
        hops.clear()
        page_status, page_headers, _ = asyncio.run(_call(handler, "/admin/login/"))
    assert status == 200
    # Django's own middleware would add about a dozen (two per hook); ours run inline or skip.
    assert len(api_hops) <= 3, api_hops
    assert not any("process_request" in hop or "process_response" in hop for hop in api_hops)
    # Inline, still applied to the API: Django's security and framing headers.
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert "set-cookie" not in headers  # no session, no CSRF cookie on the API
    # A page keeps Django's whole chain: the CSRF cookie of the login form, the framing header.
    assert page_status == 200
    assert "csrftoken=" in page_headers["set-cookie"] and page_headers["x-frame-options"] == "DENY"
