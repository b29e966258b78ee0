"""Benchmark: the local stack's Global Tables (devstack/replicator.py), items replicated per second.

    TULIP_ENV=test .venv/bin/python -m bench.replicator [--items 2000] [--rounds 3]

One patched moto server process; per round, two regions' tables (as provisioned), N order-sized
items written in us-east-1, then the replicator's cycles timed until one applies nothing: items/s
= N / that time (the stream reads, the winners, the writes into us-west-2); then a change of every
item, timed the same way. Each round runs the replicator with batches of one item (a call per
item, as it first wrote; a change, guarded, in a one-item transaction), with batches of up to 25
unconditioned (BatchWriteItem, as it wrote before the changes were guarded) and as it is (changes
of items us-west-2 is known to hold go in transactions of up to 25 conditioned puts), one after
the other, so the ratios are taken between neighbours on the same machine state. Benchmarks
only: not a test.
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
BATCH = replicator_module.BATCH_WRITE_ITEMS
MAX_CYCLES = 10_000  # bounds a round (a cycle reads up to 1,000 records per stream)


def _item(index: int, updated_at: str = "2026-12-07T00:00:00.000Z") -> dict[str, Any]:
    """About an order item's size (~400 bytes)."""
    return {"pk": {"S": f"ORDER#{index:08d}"}, "sk": {"S": "ORDER"}, "price": {"N": "100.25"},
            "qty": {"N": "3"}, "status": {"S": "OPEN"}, "clientId": {"S": "bench"},
            "updatedAt": {"S": updated_at}, "note": {"S": "x" * 300}}


def _stack(url: str) -> Config:
    suffix = uuid.uuid4().hex[:8]
    cfg = load_config({"TULIP_ENV": "test", "AWS_ENDPOINT_URL": url, "AWS_REGION": EAST,
                       "TULIP_REGIONS": f"{EAST},{WEST}", "ORDERS_TABLE": f"orders-{suffix}",
                       "TRADES_TABLE": f"trades-{suffix}"})
    names = provision.Names(orders_table=cfg.orders_table, trades_table=cfg.trades_table)
    for region in (EAST, WEST):
        provision.create_tables(aws.client("dynamodb", cfg, region=region), names)
    return cfg


def _write(east: Any, cfg: Config, items: int, updated_at: str) -> None:
    for start in range(0, items, 25):
        east.batch_write_item(RequestItems={cfg.orders_table: [
            {"PutRequest": {"Item": _item(i, updated_at)}}
            for i in range(start, min(items, start + 25))]})


def _replicated_per_s(replicator: Replicator, items: int) -> float:
    began = time.perf_counter()
    applied = 0
    for _ in range(MAX_CYCLES):
        done = replicator.cycle()
        applied += done
        if done == 0 and applied:
            break
    took = time.perf_counter() - began
    assert applied == items, (applied, items)
    return items / took


def one_round(url: str, items: int, batch: int, guarded: bool = True) -> tuple[float, float]:
    """Items per second replicated from us-east-1 into us-west-2 with batches of `batch`: new
    items, then a change of each (written, when `guarded`, on the condition that us-west-2
    still holds what the replicator last knew: devstack/replicator.py, `_held_condition`)."""
    cfg = _stack(url)
    east = aws.client("dynamodb", cfg, region=EAST)
    _write(east, cfg, items, "2026-12-07T00:00:00.000Z")
    replicator = Replicator(cfg)
    saved = replicator_module.BATCH_WRITE_ITEMS, replicator_module._held_condition
    replicator_module.BATCH_WRITE_ITEMS = batch
    if not guarded:
        replicator_module._held_condition = lambda target, key: {}
    try:
        inserts = _replicated_per_s(replicator, items)
        _write(east, cfg, items, "2026-12-07T00:00:01.000Z")
        updates = _replicated_per_s(replicator, items)
    finally:
        replicator_module.BATCH_WRITE_ITEMS, replicator_module._held_condition = saved
    return inserts, updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = start_moto(True, {})
    try:
        ratios: list[float] = []
        for round_number in range(1, args.rounds + 1):
            rows = {"one item per call": one_round(server.url, args.items, 1),
                    "batches, unconditioned": one_round(server.url, args.items, BATCH, False),
                    "batches, guarded": one_round(server.url, args.items, BATCH)}
            for name, (inserts, updates) in rows.items():
                print(f"round {round_number}: {name:24s} new items {inserts:5.0f}/s, "
                      f"changes {updates:5.0f}/s", flush=True)
            ratios.append(rows["batches, guarded"][1] / rows["batches, unconditioned"][1])
        print(f"changes, guarded / unconditioned: median {statistics.median(ratios):.2f}x of "
              f"{args.rounds} rounds, {args.items} items each")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
