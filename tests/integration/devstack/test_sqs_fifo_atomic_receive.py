"""Two concurrent receivers never hold one FIFO group at once.

moto 5.2.5 runs ReceiveMessage unlocked, and a long poll decides which groups are busy once, when
it starts: consumers already long-polling when a group's messages arrive are each handed some of
them (two matchers working on one symbol at the same time, out of order).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .support import MotoServer, create_fifo_queue

RECEIVERS = 4


def _send_group(server: MotoServer, url: str, count: int) -> None:
    for start in range(0, count, 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": f"m{i:02d}",
                "MessageGroupId": "market-TULIP",
                "MessageDeduplicationId": str(i),
            }
            for i in range(start, min(start + 10, count))
        ]
        server.sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _receive_concurrently(
    clients: list[Any], url: str, wait_s: int, before_join: float = 0.0, send: Any = None
) -> list[list[str]]:
    barrier = threading.Barrier(len(clients))
    got: list[list[str]] = [[] for _ in clients]

    def receive(n: int) -> None:
        barrier.wait()
        out = clients[n].receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
        got[n] = [m["Body"] for m in out.get("Messages", [])]

    threads = [threading.Thread(target=receive, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    if send is not None:
        time.sleep(before_join)
        send()
    for thread in threads:
        thread.join()
    return got


def test_long_polling_receivers_never_share_a_group(server: MotoServer) -> None:
    clients = [server.new_client("sqs") for _ in range(RECEIVERS)]
    url = create_fifo_queue(server.sqs, visibility_timeout=30)
    got = _receive_concurrently(clients, url, 2, before_join=0.5, send=lambda: _send_group(server, url, 20))
    holders = [bodies for bodies in got if bodies]
    server.expect(len(holders) == 1, f"one group handed to {len(holders)} receivers at once: {holders}")
    if server.patched:
        first = holders[0]
        assert first == [f"m{i:02d}" for i in range(len(first))]  # the group's oldest messages, in order


def test_racing_short_polls_never_share_a_group(servers: dict[str, MotoServer]) -> None:
    """Patched only: receive is atomic. Stock moto's race between short polls is real but too
    narrow to show reliably, so the defect side is the long-poll test above."""
    server = servers["patched"]
    clients = [server.new_client("sqs") for _ in range(8)]
    for _ in range(5):
        url = create_fifo_queue(server.sqs, visibility_timeout=30)
        _send_group(server, url, 40)
        got = _receive_concurrently(clients, url, 0)
        holders = [bodies for bodies in got if bodies]
        assert holders == [[f"m{i:02d}" for i in range(10)]]
