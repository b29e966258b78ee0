"""A simulated SQS with FIFO queues, as SQS behaves (the project's moto fixes pin the same
behaviour on the local stand-in: tests/integration/devstack/test_sqs_fifo_*.py):

* a message group with a message in flight hands out nothing more until that message is deleted
  or visible again, so each group has at most one in-flight batch (10 messages at most);
* a receive fills its batch from one group first, oldest message first, and a group is redelivered
  from its oldest message;
* a MessageDeduplicationId seen within 5 minutes of its first send is accepted and dropped;
* every receive makes a new receipt handle; a handle expires with the visibility timeout and a
  stale one never deletes (ReceiptHandleIsInvalid); deleting again with the current one is a no-op;
* SequenceNumber increases per queue; ApproximateReceiveCount counts receives; a message received
  maxReceiveCount times is moved to the dead-letter queue instead of being handed out again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEDUPE_WINDOW_S = 300.0
MAX_RECEIVE = 10
FIRST_SEQUENCE = 18_000_000_000_000_000_000


class SqsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(eq=False)
class Message:
    message_id: str
    body: str
    group: str
    dedupe_id: str
    sequence: int
    sent_at: float
    receive_count: int = 0
    visible_at: float = 0.0
    handle: str | None = None


@dataclass(eq=False)
class FifoQueue:
    url: str
    visibility_timeout: float
    dead_letter: FifoQueue | None = None
    max_receive_count: int = 0
    messages: list[Message] = field(default_factory=list)
    on_send: list[Callable[[], None]] = field(default_factory=list)
    _dedupe: dict[str, Message] = field(default_factory=dict)
    _retired_handles: set[str] = field(default_factory=set)
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---------------------------------------------------------------- send
    def send(self, body: str, group: str, dedupe_id: str, now: float) -> Message:
        seen = self._dedupe.get(dedupe_id)
        if seen is not None and now - seen.sent_at < DEDUPE_WINDOW_S:
            return seen  # accepted, not enqueued again (the first send's id and sequence)
        number = next(self._sequence)
        message = Message(f"{self.url.rsplit('/', 1)[-1]}-{number}", body, group, dedupe_id,
                          FIRST_SEQUENCE + number, now)
        self._dedupe[dedupe_id] = message
        self.messages.append(message)
        for wake in list(self.on_send):
            wake()
        return message

    # ---------------------------------------------------------------- receive
    def receive(self, limit: int, now: float) -> list[Message]:
        self._redrive(now)
        blocked = {m.group for m in self.messages if m.visible_at > now}
        groups: list[str] = []
        for message in self.messages:
            if message.group not in blocked and message.group not in groups:
                groups.append(message.group)
        batch = [m for g in groups for m in self.messages if m.group == g][:limit]
        for message in batch:
            message.receive_count += 1
            message.visible_at = now + self.visibility_timeout
            message.handle = f"{message.message_id}#{message.receive_count}"
        return batch

    def _redrive(self, now: float) -> None:
        """Visible messages already received maxReceiveCount times go to the dead-letter queue."""
        if self.dead_letter is None or not self.max_receive_count:
            return
        for message in list(self.messages):
            if message.visible_at <= now and message.receive_count >= self.max_receive_count:
                self.messages.remove(message)
                self.dead_letter.send(message.body, message.group,
                                      f"dlq:{message.message_id}", now)

    # ---------------------------------------------------------------- delete / visibility
    def _current(self, handle: str, now: float) -> Message | None:
        for message in self.messages:
            if message.handle == handle and message.visible_at > now:
                return message
        return None

    def delete(self, handle: str, now: float) -> None:
        if handle in self._retired_handles:
            return  # deleted already with this very handle: a no-op
        message = self._current(handle, now)
        if message is None:
            raise SqsError("ReceiptHandleIsInvalid", f"The receipt handle \"{handle}\" is not valid.")
        self.messages.remove(message)
        self._retired_handles.add(handle)

    def change_visibility(self, handle: str, timeout: float, now: float) -> None:
        message = self._current(handle, now)
        if message is None:
            raise SqsError("ReceiptHandleIsInvalid", f"The receipt handle \"{handle}\" is not valid.")
        message.visible_at = now + timeout

    def in_flight(self, now: float) -> int:
        return sum(1 for m in self.messages if m.visible_at > now)


class SimSqs:
    """The queues of one region, addressed by URL; `call` takes boto3's request shapes."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.queues: dict[str, FifoQueue] = {}

    def create_fifo(self, url: str, visibility_timeout: float, dead_letter: FifoQueue | None = None,
                    max_receive_count: int = 0) -> FifoQueue:
        queue = FifoQueue(url, visibility_timeout, dead_letter, max_receive_count)
        self.queues[url] = queue
        return queue

    def queue(self, url: Any) -> FifoQueue:
        queue = self.queues.get(url) if isinstance(url, str) else None
        if queue is None:
            raise SqsError("AWS.SimpleQueueService.NonExistentQueue",
                           "The specified queue does not exist.")
        return queue

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        handler = {"SendMessage": self.send_message, "ReceiveMessage": self.receive_message,
                   "DeleteMessageBatch": self.delete_message_batch,
                   "DeleteMessage": self.delete_message,
                   "ChangeMessageVisibility": self.change_message_visibility}.get(operation)
        if handler is None:
            raise NotImplementedError(f"the simulated SQS has no {operation}")
        return handler(json.loads(json.dumps(request)))

    def send_message(self, request: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(request.get("QueueUrl"))
        for name in ("MessageGroupId", "MessageDeduplicationId"):
            if not request.get(name):
                raise SqsError("MissingParameter", f"The request must contain the parameter {name}.")
        body = str(request["MessageBody"])
        message = queue.send(body, request["MessageGroupId"], request["MessageDeduplicationId"],
                             self.clock())
        return {"MessageId": message.message_id, "SequenceNumber": str(message.sequence),
                "MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest()}

    def receive_message(self, request: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(request.get("QueueUrl"))
        limit = int(request.get("MaxNumberOfMessages", 1))
        if not 1 <= limit <= MAX_RECEIVE:
            raise SqsError("InvalidParameterValue", "MaxNumberOfMessages must be 1..10")
        batch = queue.receive(limit, self.clock())
        if not batch:
            return {}
        return {"Messages": [_wire(m) for m in batch]}

    def delete_message_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue(request.get("QueueUrl"))
        done: dict[str, list[dict[str, Any]]] = {"Successful": [], "Failed": []}
        for entry in request.get("Entries", []):
            try:
                queue.delete(entry["ReceiptHandle"], self.clock())
                done["Successful"].append({"Id": entry["Id"]})
            except SqsError as exc:
                done["Failed"].append({"Id": entry["Id"], "Code": exc.code,
                                       "Message": exc.message, "SenderFault": True})
        return {k: x for k, x in done.items() if x}

    def delete_message(self, request: dict[str, Any]) -> dict[str, Any]:
        self.queue(request.get("QueueUrl")).delete(request["ReceiptHandle"], self.clock())
        return {}

    def change_message_visibility(self, request: dict[str, Any]) -> dict[str, Any]:
        self.queue(request.get("QueueUrl")).change_visibility(
            request["ReceiptHandle"], float(request["VisibilityTimeout"]), self.clock())
        return {}


def _wire(message: Message) -> dict[str, Any]:
    return {
        "MessageId": message.message_id, "ReceiptHandle": message.handle, "Body": message.body,
        "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
        "Attributes": {"SequenceNumber": str(message.sequence),
                       "ApproximateReceiveCount": str(message.receive_count),
                       "MessageGroupId": message.group,
                       "MessageDeduplicationId": message.dedupe_id},
    }
