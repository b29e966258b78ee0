"""Benchmark: the local stack's Global Tables (devstack/replicator.py), items replicated per second.

    TULIP_ENV=test .venv/bin/python -m bench.replicator [--items 2000] [--rounds 3]

One patched moto server process; per round, two regions' tables (as provisioned), N order-sized
items written in us-east-1, then the replicator's cycles timed until one applies nothing: items/s
= N / that time (the stream reads, the winners, the writes into us-west-2). Each round runs the
replicator as it is (BatchWriteItem of up to 25 winners) and with batches of one item, the
baseline: one call per item, as the replicator wrote before (a PutItem each), alternating, so the
ratio is taken between neighbours on the same machine state. Benchmarks only: not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

import devstack.replicator as replicator_module
from devstack import provision
from devstack.replicator import Replicator
from tests.integration.devstack.support import start_moto
from tulip import aws
from tulip.config import Config, load_config

EAST, WEST = "us-east-1", "us-west-2"
MAX_CYCLES = 10_000  # bounds a round (a cycle reads up to 1,000 records per stream)


def _item(index: int) -> dict[str, Any]:
    """About an order item's size (~400 bytes)."""
    return {"pk": {"S": f"ORDER#{index:08d}"}, "sk": {"S": "ORDER"}, "price": {"N": "100.25"},
            "qty": {"N": "3"}, "status": {"S": "OPEN"}, "clientId": {"S": "bench"},
            "note": {"S": "x" * 300}}


def _stack(url: str) -> Config:
    suffix = uuid.uuid4().hex[:8]
    cfg = load_config({"TULIP_ENV": "test", "AWS_ENDPOINT_URL": url, "AWS_REGION": EAST,
                       "TULIP_REGIONS": f"{EAST},{WEST}", "ORDERS_TABLE": f"orders-{suffix}",
                       "TRADES_TABLE": f"trades-{suffix}"})
    names = provision.Names(orders_table=cfg.orders_table, trades_table=cfg.trades_table)
    for region in (EAST, WEST):
        provision.create_tables(aws.client("dynamodb", cfg, region=region), names)
    return cfg


def one_round(url: str, items: int, batch: int) -> float:
    """Items per second replicated from us-east-1 into us-west-2 with batches of `batch`."""
    cfg = _stack(url)
    east = aws.client("dynamodb", cfg, region=EAST)
    for start in range(0, items, 25):
        east.batch_write_item(RequestItems={cfg.orders_table: [
            {"PutRequest": {"Item": _item(i)}} for i in range(start, min(items, start + 25))]})
    replicator = Replicator(cfg)
    saved = replicator_module.BATCH_WRITE_ITEMS
    replicator_module.BATCH_WRITE_ITEMS = batch
    try:
        began = time.perf_counter()
        applied = 0
        for _ in range(MAX_CYCLES):
            done = replicator.cycle()
            applied += done
            if done == 0 and applied:
                break
        took = time.perf_counter() - began
    finally:
        replicator_module.BATCH_WRITE_ITEMS = saved
    assert applied == items, (applied, items)
    return items / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = start_moto(True, {})
    try:
        batched: list[float] = []
        single: list[float] = []
        for round_number in range(1, args.rounds + 1):
            single.append(one_round(server.url, args.items, 1))
            batched.append(one_round(server.url, args.items, replicator_module.BATCH_WRITE_ITEMS))
            print(f"round {round_number}: one item per call {single[-1]:.0f} items/s, "
                  f"batches of {replicator_module.BATCH_WRITE_ITEMS} {batched[-1]:.0f} items/s, "
                  f"{batched[-1] / single[-1]:.1f}x", flush=True)
        print(f"median of {args.rounds} rounds, {args.items} items each: one item per call "
              f"{statistics.median(single):.0f} items/s, batched {statistics.median(batched):.0f} "
              f"items/s, {statistics.median([b / s for b, s in zip(batched, single, strict=True)]):.1f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
