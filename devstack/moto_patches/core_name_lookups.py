"""Fix ``core_name_lookups``: names moto derives from constants on every request, derived once.

Why (measured on moto 5.2.5; py-spy ``--gil`` on the moto process during one stress step at
100 req/s, docs/benchmarks.md "What moto's CPU goes to under load"): every request's
``BaseResponse.call_action`` lists its handler class's methods with ``inspect.getmembers``
(``method_names_from_class``, 3.2 % of moto's CPU) to learn whether the action is one of them;
every SendMessage builds its queue's whole attribute dict three times to read one attribute
(``Queue.attributes``, 4.8 %), running ``camelcase_to_underscores`` (six regular-expression
substitutions) on each attribute name each time (3.7 % in all). Counted in server-side Python
calls (``work_meter``), a SendMessage to a FIFO queue: see
tests/integration/devstack/test_core_name_lookups.py.

Fix: ``camelcase_to_underscores``, a pure function of its string, answers from a bounded memo;
``method_names_from_class`` answers each class from its first listing (the server's classes do
not change while it serves: every fix is applied before it starts). Same names, same order.
"""

from __future__ import annotations

import functools
from typing import Any

from ._util import replace

NAME = "core_name_lookups"
MEMO_SIZE = 4096  # distinct names: actions, attributes and parameters of the served services


def apply() -> None:
    import moto.core.responses as responses
    import moto.core.utils as utils
    import moto.sqs.models as sqs_models

    camel = functools.lru_cache(maxsize=MEMO_SIZE)(utils.camelcase_to_underscores)
    listed = functools.cache(utils.method_names_from_class)

    def method_names_from_class(clazz: Any) -> list[str]:
        return list(listed(clazz))  # a copy: the caller owns the list it gets, as before

    for module in (utils, responses, sqs_models):
        replace(module, "camelcase_to_underscores", camel)
    for module in (utils, responses):
        replace(module, "method_names_from_class", method_names_from_class)
