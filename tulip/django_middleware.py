"""Django's own middleware, in subclasses that cost API requests no thread hops. Under ASGI a
MiddlewareMixin hops from the event loop to a thread and back for each of its hooks, on every
request (docs/benchmarks.md, "Accept path over HTTP": with the view's own hop and the request
thread, the bridging was a third of the ASGI process's CPU per request). Those that only compute
run inline (``InlineMixin``); those only the pages people use need are skipped on API paths
(``HtmlOnlyMixin``).

A module of its own because importing Django's auth and session middleware needs the app
registry ready: settings name these classes, Django imports them once it is set up, and nothing
that loads before (tulip.middleware, tulip.flags) imports this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as message_middleware
from django.contrib.sessions import middleware as session_middleware
from django.http import HttpRequest, HttpResponse
from django.middleware import clickjacking, common, csrf, security

from tulip.middleware import is_api_path


class InlineMixin:
    """For Django middleware whose hooks only compute (headers, redirects; no I/O, no ORM): in
    async mode they run on the event loop, instead of MiddlewareMixin's hop to a thread and back
    for each hook."""

    get_response: Callable[[HttpRequest], Any]

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse | None = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class HtmlOnlyMixin:
    """For Django middleware only the pages people use need (the session, its CSRF cookie, the
    console's user and messages): API paths skip it, sync or async, and so skip its thread hops.
    The API authenticates by bearer token alone, and its views are CSRF-exempt."""

    get_response: Callable[[HttpRequest], Any]

    def __call__(self, request: HttpRequest) -> Any:
        if is_api_path(request.path):
            return self.get_response(request)  # a coroutine in async mode, as the chain expects
        return super().__call__(request)  # type: ignore[misc]  # MiddlewareMixin's


class SecurityMiddleware(InlineMixin, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineMixin, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(InlineMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class SessionMiddleware(HtmlOnlyMixin, session_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(HtmlOnlyMixin, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(HtmlOnlyMixin, message_middleware.MessageMiddleware):
    pass


class CsrfViewMiddleware(HtmlOnlyMixin, csrf.CsrfViewMiddleware):
    async def process_view(  # type: ignore[override]  # async on purpose; the handler adapts it
            self, request: HttpRequest, callback: Callable[..., Any],
                           callback_args: Any, callback_kwargs: Any) -> HttpResponse | None:
        """Async, so that the handler does not hop to a thread to call it on API paths (it
        adapts a sync process_view with a hop whatever the path); pages get Django's check."""
        if is_api_path(request.path):
            return None
        check = sync_to_async(super().process_view)
        return await check(request, callback, callback_args, callback_kwargs)
