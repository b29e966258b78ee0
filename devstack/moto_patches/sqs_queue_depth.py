"""Fix ``sqs_queue_depth``: SendMessage/ReceiveMessage cost no longer grows with queue depth.

Why (moto 5.2.5): every SendMessage reads ``Queue.attributes`` three times, and each read counts
the queue's visible, in-flight and delayed messages, asking the clock once per message per count;
stock ReceiveMessage does the same for every message it returns. moto's clock
(``moto.core.utils.unix_time``: ``datetime.now(UTC)`` minus the epoch, plus an import per call)
costs microseconds, so at 1,000 queued messages one send spends ~90 ms reading the clock
(10-message receive: 175 ms at 100 queued, 880 ms at 1,000).

Fix: the SQS models read the clock with ``time.time()`` (same value: seconds since the epoch,
UTC), and the visible / in-flight / delayed counts read it once per count instead of once per
message (same comparisons as ``Message.visible`` / ``Message.delayed``). The counting itself stays
(a plain scan of the list, well under a millisecond at these depths).
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from ._util import replace

NAME = "sqs_queue_depth"


def apply() -> None:
    import moto.sqs.models as sqs_models
    from moto.core.utils import unix_time as original_unix_time

    def unix_time(dt: datetime.datetime | None = None) -> float:
        return time.time() if dt is None else float(original_unix_time(dt))

    def unix_time_millis(dt: datetime.datetime | None = None) -> Any:
        return unix_time(dt) * 1000.0

    replace(sqs_models, "unix_time", unix_time)
    replace(sqs_models, "unix_time_millis", unix_time_millis)

    def messages(self: Any) -> list[Any]:
        now = time.time() * 1000.0
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed_count(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible_count(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if not now > m.visible_at)

    def visible_count(self: Any) -> int:
        return len(messages(self))

    queue = sqs_models.Queue
    replace(queue, "messages", property(messages))
    replace(queue, "approximate_number_of_messages_delayed", property(delayed_count))
    replace(queue, "approximate_number_of_messages_not_visible", property(not_visible_count))
    replace(queue, "approximate_number_of_messages", property(visible_count))
