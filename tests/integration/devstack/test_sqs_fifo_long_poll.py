"""A long poll on a blocked FIFO group waits without burning CPU, and wakes when the group frees.

moto 5.2.5: visible messages in a blocked group make its wait return at once, so the long poll
spins a CPU core for its whole duration (over a million server-side Python calls in a 2 s poll,
counted by ``work_meter``; a few thousand patched).
"""

from __future__ import annotations

import threading
import time

from .support import MotoServer, calls_of, create_fifo_queue


def _blocked_queue(server: MotoServer) -> tuple[str, str]:
    url = create_fifo_queue(server.sqs, visibility_timeout=30)
    for i in range(2):
        server.sqs.send_message(
            QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=str(i)
        )
    handle = server.sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    return url, handle  # m0 in flight, m1 visible but blocked behind it


def test_long_poll_on_blocked_group_does_not_spin(server: MotoServer) -> None:
    url, _ = _blocked_queue(server)
    started = time.monotonic()
    out = server.metered("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=2)
    waited = time.monotonic() - started
    assert "Messages" not in out and waited >= 1.9
    calls = calls_of(out)
    server.expect(calls < 50_000, f"server made {calls:,} Python calls during a {waited:.1f} s long poll")


def test_long_poll_wakes_when_group_frees(server: MotoServer) -> None:
    """moto 5.2.5 decides once, when the poll starts, that the group is busy: the waiting consumer
    never gets m1 during this poll. Fixed: a delete notifies the waiting receive."""
    url, handle = _blocked_queue(server)
    other = server.new_client("sqs")
    timer = threading.Timer(0.5, lambda: other.delete_message(QueueUrl=url, ReceiptHandle=handle))
    timer.start()
    started = time.monotonic()
    out = server.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)
    waited = time.monotonic() - started
    timer.join()
    got = [m["Body"] for m in out.get("Messages", [])]
    # A 3 s poll that returns m1 was woken by the delete (stock moto returns nothing until it ends).
    server.expect(got == ["m1"] and waited < 2.9, f"long poll got {got} after {waited:.1f} s")
