"""Fix ``sqs_fifo``: SQS FIFO queues that keep FIFO's promises under concurrent consumers.

Why (moto 5.2.5, ``moto/sqs/models.py``), each a named part of this fix:

* ``in_order_redelivery``: after a visibility timeout moto redelivers out of order (with messages
  1-10 of a group in flight it returns 10, 11... and holds 1-9 back): the matcher would apply a
  later order before an earlier one.
* ``atomic_receive``: ReceiveMessage runs unlocked on the threaded server, so two consumers can
  both be handed the same message group at once.
* ``no_spin_long_poll``: a long poll on a queue whose visible messages all sit in blocked groups
  re-checks without sleeping (``wait_for`` returns at once): one CPU core per waiting consumer.
* ``receipt_handle_expiry``: every receipt handle a message ever had still deletes it, so a
  consumer whose visibility timeout expired deletes the message that another consumer now holds.
* ``dedupe_window``: deduplication only looks at messages still in the queue; once the first copy
  is deleted a duplicate is delivered again (AWS: 5 minutes from the send, deleted or not).
* ``sequence_numbers``: SequenceNumber is 20 random digits (and missing with content-based
  deduplication); TulipBroker's matcher recognises redelivered messages by it, so it must grow.
* ``group_batches``: a receive walks the queue in send order and hands out the first available
  message of *every* group, so with messages of several groups interleaved (one group per symbol)
  a 10-message receive returns two or three of each and every batch the matcher commits is small.
  AWS "attempts to return as many messages with the same message group ID as possible" and adds
  other groups' messages only when that group has fewer than asked for (SQS developer guide,
  "FIFO queue delivery logic"), which is what lets one consumer per group commit full batches.

Fix: FIFO queues get their own receive / delete / change-visibility / send paths, all under the
queue's own condition lock (moto's ``Queue._messages_lock``), which every state change notifies:

* receive walks the queue in send order; a group is skipped from the first message that is in
  flight or delayed, so a group is only ever handed out from its oldest message, to one receiver;
  the first group with an available message fills the batch first (in its order), then the other
  groups' available messages, in send order, fill what is left;
* a long poll waits on the condition until a send, delete or visibility change, or until the next
  in-flight message's timeout, never busy;
* only a message's current receipt handle is valid, and only until its visibility timeout
  passes: a stale handle gets ReceiptHandleIsInvalid (re-deleting a deleted one stays a no-op);
* deduplication ids are remembered for ``TULIP_MOTO_FIFO_DEDUPE_WINDOW_S`` seconds (default 300)
  from the send, per queue or per group following DeduplicationScope; a duplicate is accepted
  but not enqueued and gets the original's MessageId and SequenceNumber, as on AWS;
* sequence numbers are per-queue, strictly increasing, 20 digits.

Standard queues keep moto's code paths. Lambda event-source mappings on FIFO queues (unused by
TulipBroker) are not supported by the patched send path.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ._util import env_number, replace

NAME = "sqs_fifo"

#: How many already-deleted receipt handles are remembered (re-deleting them is a no-op).
_DELETED_HANDLES_KEPT = 10_000


@dataclass
class FifoState:
    """What a FIFO queue needs beyond moto's message list."""

    dedupe_window_s: float
    next_sequence: int
    # dedupe key -> (expires at, monotonic; MessageId; SequenceNumber), oldest first
    dedupe: OrderedDict[tuple[str, str], tuple[float, str, str]] = field(default_factory=OrderedDict)
    # current receipt handle -> message
    handles: dict[str, Any] = field(default_factory=dict)
    deleted_handles: OrderedDict[str, None] = field(default_factory=OrderedDict)


def _state(queue: Any) -> FifoState:
    state: FifoState | None = getattr(queue, "_tulip_fifo", None)
    if state is None:
        state = FifoState(
            dedupe_window_s=env_number("TULIP_MOTO_FIFO_DEDUPE_WINDOW_S", 300.0),
            # Epoch milliseconds x 1e6: 20 digits, and increasing across server restarts too.
            next_sequence=int(time.time() * 1000) * 1_000_000,
        )
        queue._tulip_fifo = state
    return state


def _now_ms() -> float:
    return time.time() * 1000.0


def _in_flight(message: Any, now_ms: float) -> bool:
    # moto: visible <=> now > visible_at
    return bool(now_ms <= message.visible_at)


# --- send: dedupe window + sequence numbers -------------------------------------------------


def _fifo_add_message(queue: Any, message: Any) -> None:
    state = _state(queue)
    with queue._messages_lock:
        now = time.monotonic()
        while state.dedupe and next(iter(state.dedupe.values()))[0] <= now:
            state.dedupe.popitem(last=False)
        key: tuple[str, str] | None = None
        if message.deduplication_id:
            scope = message.group_id if queue.deduplication_scope == "messageGroup" else ""
            key = (scope or "", message.deduplication_id)
            seen = state.dedupe.get(key)
            if seen is not None:
                # Accepted, not enqueued; the caller sees the original message's identity.
                message.id, message.sequence_number = seen[1], seen[2]
                return
        message.sequence_number = f"{state.next_sequence:020d}"
        state.next_sequence += 1
        if key is not None:
            state.dedupe[key] = (now + state.dedupe_window_s, message.id, message.sequence_number)
        queue._messages.append(message)
        queue._messages_lock.notify_all()


# --- receive: in order, atomic, no spin ----------------------------------------------------


def _take(
    backend: Any, queue: Any, count: int, visibility_timeout: int, attribute_names: list[str]
) -> tuple[list[Any], float | None]:
    """Hand out up to ``count`` messages; also return when (epoch ms) a blocked group may free up."""
    from moto.sqs.models import _filter_message_attributes

    state = _state(queue)
    now = _now_ms()
    retention_ms = int(queue.message_retention_period) * 1000
    blocked: set[Any] = set()
    next_change: float | None = None
    first_group: Any = None
    chosen: list[Any] = []  # the first available group's messages, in order
    others: list[Any] = []  # other groups' available messages, in send order (each a prefix)
    expired: list[Any] = []
    to_dlq: list[Any] = []
    for message in queue._messages:
        group = message.group_id
        if group in blocked:
            continue
        if message.delayed or _in_flight(message, now):
            # The group's oldest message is not available: nothing later in the group is.
            blocked.add(group)
            wake = max(message.delayed_until, message.visible_at)
            next_change = wake if next_change is None else min(next_change, wake)
            continue
        if message.sent_timestamp + retention_ms <= now:
            expired.append(message)
            continue
        if (
            queue.dead_letter_queue is not None
            and queue.redrive_policy
            and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]
        ):
            queue.pending_messages.discard(message)
            to_dlq.append(message)
            continue
        if first_group is None:
            first_group = group
        if group == first_group:
            chosen.append(message)
            if len(chosen) >= count:
                break  # group_batches: a full batch of one group
        elif len(others) < count:
            others.append(message)
    result: list[Any] = []
    for message in chosen + others[: count - len(chosen)]:
        queue.pending_messages.discard(message)  # its earlier visibility timeout has passed
        state.handles.pop(message.receipt_handle, None)  # the previous handle is now stale
        message.mark_received(visibility_timeout=visibility_timeout)
        state.handles[message.receipt_handle] = message
        queue.pending_messages.add(message)
        # What the response reads: a shallow snapshot is enough (the filter below reassigns
        # message_attributes on the snapshot, nothing mutates shared containers before the
        # response is written); moto's deepcopy of every message cost ~0.1 ms each.
        snapshot = copy.copy(message)
        _filter_message_attributes(snapshot, attribute_names)
        result.append(snapshot)
    for message in expired + to_dlq:
        queue._messages.remove(message)
        state.handles.pop(message.receipt_handle, None)
        queue.pending_messages.discard(message)
    for message in to_dlq:
        queue.dead_letter_queue.add_message(message)
    return result, next_change


def _fifo_receive(
    backend: Any,
    queue: Any,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None,
) -> list[Any]:
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    with queue._messages_lock:
        while True:
            result, next_change_ms = _take(
                backend, queue, count, visibility_timeout, message_attribute_names or []
            )
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return result
            timeout = remaining
            if next_change_ms is not None:
                timeout = min(timeout, max((next_change_ms - _now_ms()) / 1000.0, 0.0) + 0.01)
            # Sends, deletes and visibility changes notify; otherwise wake when a group may free up.
            queue._messages_lock.wait(timeout=timeout)


# --- delete / change visibility: only the current, unexpired receipt handle -----------------


def _current_message(queue: Any, receipt_handle: str) -> Any:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    message = _state(queue).handles.get(receipt_handle)
    if message is None or not _in_flight(message, _now_ms()):
        raise ReceiptHandleIsInvalid()
    return message


def _fifo_delete_message(queue: Any, receipt_handle: str) -> None:
    state = _state(queue)
    with queue._messages_lock:
        if receipt_handle in state.deleted_handles:
            return  # deleting again with the same handle is a no-op, as in moto and AWS
        message = _current_message(queue, receipt_handle)
        del state.handles[receipt_handle]
        queue.pending_messages.discard(message)
        if message in queue._messages:
            queue._messages.remove(message)
        state.deleted_handles[receipt_handle] = None
        while len(state.deleted_handles) > _DELETED_HANDLES_KEPT:
            state.deleted_handles.popitem(last=False)
        queue._messages_lock.notify_all()  # the message's group may be free now


def _fifo_change_visibility(queue: Any, receipt_handle: str, visibility_timeout: int) -> None:
    from moto.sqs.exceptions import InvalidParameterValue

    with queue._messages_lock:
        message = _current_message(queue, receipt_handle)
        if _now_ms() + int(visibility_timeout) * 1000 - message.sent_timestamp > 43200 * 1000:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        if int(visibility_timeout) == 0:
            message.visible_at = 0.0
            queue.pending_messages.discard(message)
        else:
            message.change_visibility(visibility_timeout)
        queue._messages_lock.notify_all()


def apply() -> None:
    from moto.sqs.models import Queue, SQSBackend

    original_add = Queue.add_message
    original_queue_delete = Queue.delete_message
    original_receive = SQSBackend.receive_message
    original_change_visibility = SQSBackend.change_message_visibility
    original_purge = SQSBackend.purge_queue

    def add_message(self: Any, message: Any) -> None:
        if self.fifo_queue:
            _fifo_add_message(self, message)
        else:
            original_add(self, message)

    def delete_message(self: Any, receipt_handle: str) -> None:
        if self.fifo_queue:
            _fifo_delete_message(self, receipt_handle)
        else:
            original_queue_delete(self, receipt_handle)

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        queue = self.get_queue(queue_name)
        if not queue.fifo_queue:
            return original_receive(
                self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names
            )
        return _fifo_receive(
            self, queue, count, wait_seconds_timeout, visibility_timeout, message_attribute_names
        )

    def change_message_visibility(
        self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        queue = self.get_queue(queue_name)
        if not queue.fifo_queue:
            original_change_visibility(self, queue_name, receipt_handle, visibility_timeout)
            return
        _fifo_change_visibility(queue, receipt_handle, visibility_timeout)

    def purge_queue(self: Any, queue_name: str) -> None:
        queue = self.get_queue(queue_name)
        with queue._messages_lock:
            original_purge(self, queue_name)
            if queue.fifo_queue:
                _state(queue).handles.clear()
            queue._messages_lock.notify_all()

    replace(Queue, "add_message", add_message)
    replace(Queue, "delete_message", delete_message)
    replace(SQSBackend, "receive_message", receive_message)
    replace(SQSBackend, "change_message_visibility", change_message_visibility)
    replace(SQSBackend, "purge_queue", purge_queue)
