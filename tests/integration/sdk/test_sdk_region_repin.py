"""Region re-pinning by health: with the preferred region down, REST calls and the stream move
to the first endpoint whose /readyz answers 200; a retried submit keeps its idempotency key."""

from __future__ import annotations

from tulip_client import Backoff, RegionPicker, TulipClient

from devstack.launcher import free_port
from tests.support.stack import StackHandle


def test_repins_to_the_healthy_region(sdk_stack: StackHandle) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    picker = RegionPicker([dead, sdk_stack.url])
    assert picker.current == dead
    assert picker.repin() == sdk_stack.url and picker.repins == 1

    client = TulipClient([dead, sdk_stack.url], sdk_stack.token("alice"),
                         backoff=Backoff(base_s=0.01, cap_s=0.05))
    book = client.book("TULIP")  # first attempt hits the dead region, the retry the live one
    assert client.base_url == sdk_stack.url and "bids" in book
    client.close()
