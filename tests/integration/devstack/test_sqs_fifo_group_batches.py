"""A FIFO receive fills its batch from one message group first (``sqs_fifo``, ``group_batches``).

AWS: "attempts to return as many messages with the same message group ID as possible" in one
call, and adds other groups' messages only when that group has fewer than asked for (SQS developer
guide, FIFO queue delivery logic). moto 5.2.5 hands out messages in send order across groups, so
with the symbols' groups interleaved (as the matcher's queue is) a 10-message receive returns a
few messages of each group and every group commit is small.
"""

from __future__ import annotations

from .support import MotoServer, create_fifo_queue


def _send_interleaved(server: MotoServer, url: str, groups: dict[str, int]) -> None:
    """Round-robin over the groups, as order entry for several symbols fills the queue."""
    pending = {group: [f"{group}-{i}" for i in range(count)] for group, count in groups.items()}
    bodies = []
    while any(pending.values()):
        for group, left in pending.items():
            if left:
                bodies.append((group, left.pop(0)))
    for start in range(0, len(bodies), 10):
        server.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": body, "MessageGroupId": group, "MessageDeduplicationId": body}
            for i, (group, body) in enumerate(bodies[start:start + 10])])


def _bodies(server: MotoServer, url: str) -> list[str]:
    got = server.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     MessageSystemAttributeNames=["MessageGroupId"])
    return [m["Body"] for m in got.get("Messages", [])]


def test_a_receive_fills_from_one_group(server: MotoServer) -> None:
    url = create_fifo_queue(server.sqs)
    _send_interleaved(server, url, {"A": 12, "B": 12, "C": 12, "D": 12})
    batches = [_bodies(server, url) for _ in range(4)]  # four consumers, nothing deleted yet
    expected = [[f"{g}-{i}" for i in range(10)] for g in "ABCD"]
    server.expect(batches == expected, f"receives of interleaved groups: {batches}")


def test_a_short_group_is_topped_up_in_send_order(server: MotoServer) -> None:
    """Fewer than asked for in the first group: the rest comes from the others, each group in its
    own order; every group handed out is then held."""
    url = create_fifo_queue(server.sqs)
    _send_interleaved(server, url, {"A": 3, "B": 12})
    first = _bodies(server, url)
    server.expect(first == ["A-0", "A-1", "A-2", *(f"B-{i}" for i in range(7))],
                  f"a receive of a 3-message group and a 12-message one: {first}")
    assert _bodies(server, url) == []  # both groups are in flight now (true on both)
