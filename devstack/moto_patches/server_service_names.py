"""Fix ``server_service_names``: the server no longer lists moto's package directory per request.

Why (moto 5.2.5): ``DomainDispatcherApplication.get_backend_for_host`` asks
``moto.backends.list_of_moto_modules()`` whether the request's service is a moto module, for every
request. That generator lists moto's package directory and calls ``os.path.isdir`` on each of its
~175 entries until it meets the service's name: 895 us per full listing here, paid by every
DynamoDB and SQS call the stack makes (a transaction plus a send per accepted order; dozens of idle
polls a second from each matcher, projector and worker). py-spy put it at 14 % of an idle stack's
moto CPU.

Fix: the listing is taken once, at start (the installed package does not change while the server
runs), and answered from a frozenset; same names, same order of checks in the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._util import replace

NAME = "server_service_names"


def apply() -> None:
    import moto.backends as backends

    names = frozenset(backends.list_of_moto_modules())

    def list_of_moto_modules() -> Iterable[str]:
        return names

    replace(backends, "list_of_moto_modules", list_of_moto_modules)
