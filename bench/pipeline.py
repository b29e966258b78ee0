"""Pipeline benchmark (`make bench-pipeline`): the matcher on the local stack, group commit vs one
transaction per message, 1 and 4 symbols, in one run.

Two measurements per configuration, each on a fresh stack:
- drain: orders are submitted over HTTP while the matcher is stopped, then it starts and drains
  the queue. msgs/s = orders / (last commit - matcher start). Batches are full, so the cycle
  breakdown (receive / engine / commit / delete / publish, from the matcher's own counters) gives
  the cycle-time ceiling 10 / cycle per symbol, which the measured rate is compared with.
- live: orders submitted at a steady rate with the matcher running; submit->fill latency from the
  stored timestamps (acceptedAt of the taker -> the trade's commit ts; one machine, one clock).
Prints a table; figures go to docs/benchmarks.md with this command.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.ledger import orders, trades, wait_until_matched
from tests.support.stack import StackHandle, start_stack
from tests.support.trading import Trader


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def _flow(count: int, symbols: list[str]) -> list[tuple[str, str, str, str]]:
    """Alternating resting sells and crossing IOC buys, round-robin over symbols."""
    flow = []
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        if (i // len(symbols)) % 2 == 0:
            flow.append((symbol, "SELL", f"{100 + (i % 7) / 100:.2f}", "GTC"))
        else:
            flow.append((symbol, "BUY", "101.00", "IOC"))
    return flow


def _submit(handle: StackHandle, flow: list[tuple[str, str, str, str]], threads: int,
            rate: float | None = None) -> list[str]:
    traders = [Trader(handle, f"b{i}") for i in range(4)]

    def place(index: int) -> str:
        symbol, side, price, tif = flow[index]
        if rate:
            time.sleep(max(0.0, start + index / rate - time.monotonic()))
        trader = traders[index % 2 + (0 if side == "SELL" else 2)]  # makers and takers differ
        return str(trader.place(symbol, side, 1, price, tif)["orderId"])

    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(place, range(len(flow))))


def _breakdown(handle: StackHandle) -> dict[str, Any]:
    log = handle.stack.children["matcher"].log_path.read_text().splitlines()
    lines = [json.loads(line) for line in log if '"cycle breakdown"' in line]
    return lines[-1] if lines else {}


def drain(count: int, symbols: list[str], mode: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_stack(Path(tmp) / "stack", symbols=",".join(symbols),
                             extra_env={"MATCHER_COMMIT": mode, "SWEEPER_MIN_AGE_S": "3600"})
        try:
            handle.stack.stop_child("matcher")
            ids = _submit(handle, _flow(count, symbols), threads=16)
            handle.stack.start_matcher()  # returns once its loop runs: start the clock there
            started_ms = time.time() * 1000
            wait_until_matched(handle, ids, timeout=900)
            stored = orders(handle)
            last_commit = max(_ms(o["updatedAt"]["S"]) for o in stored.values())
            handle.stack.stop_child("matcher")
            cycle = _breakdown(handle)
            seconds = (last_commit - started_ms) / 1000
            cycle_ms = sum(float(cycle.get(f"{s}Ms", 0)) for s in
                           ("receive", "engine", "commit", "delete", "publish"))
            per_batch = cycle["messages"] / cycle["batches"] if cycle.get("batches") else 0
            ceiling = len(symbols) * per_batch / (cycle_ms / 1000) if cycle_ms else 0
            return {"mode": mode, "symbols": len(symbols), "orders": count,
                    "msgs_per_s": count / seconds, "cycle": cycle, "cycle_ms": cycle_ms,
                    "msgs_per_batch": per_batch, "ceiling": ceiling,
                    "table_items": len(stored) * 2 + len(trades(handle))}
        finally:
            handle.stop()


def live(count: int, symbols: list[str], rate: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_stack(Path(tmp) / "stack", symbols=",".join(symbols))
        try:
            ids = _submit(handle, _flow(count, symbols), threads=8, rate=rate)
            wait_until_matched(handle, ids, timeout=600)
            stored = orders(handle)
            latencies = [_ms(t["ts"]["S"]) - _ms(stored[t["takerOrderId"]["S"]]["acceptedAt"]["S"])
                         for t in trades(handle)]
            latencies.sort()
            return {"symbols": len(symbols), "orders": count, "rate": rate,
                    "p50_ms": statistics.median(latencies),
                    "p95_ms": latencies[int(0.95 * (len(latencies) - 1))]}
        finally:
            handle.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--rate", type=float, default=40.0, help="live submissions per second")
    args = parser.parse_args()
    rows = []
    for n in (1, 4):
        symbols = [f"P{i}" for i in range(n)]
        for mode in ("group", "per_message"):
            row = drain(args.orders, symbols, mode)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "cycle"}), flush=True)
    print("\n| symbols | commit | orders | msgs/s | msgs/batch | cycle ms (recv/engine/commit/"
          "delete/publish) | ceiling msgs/s | % of ceiling | group ÷ per-message |")
    print("|---:|---|---:|---:|---:|---|---:|---:|---:|")
    for row in rows:
        peer = next(r for r in rows if r["symbols"] == row["symbols"] and r["mode"] == "per_message")
        c = row["cycle"]
        stages = "/".join(f"{float(c.get(f'{s}Ms', 0)):.1f}" for s in
                          ("receive", "engine", "commit", "delete", "publish"))
        print(f"| {row['symbols']} | {row['mode']} | {row['orders']} | {row['msgs_per_s']:.1f} | "
              f"{row['msgs_per_batch']:.1f} | {row['cycle_ms']:.1f} ({stages}) | "
              f"{row['ceiling']:.1f} | {100 * row['msgs_per_s'] / row['ceiling']:.0f} % | "
              f"{row['msgs_per_s'] / peer['msgs_per_s']:.1f}× |")
    print("\n| symbols | live rate /s | orders | submit→fill p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|")
    for n in (1, 4):
        row = live(max(200, args.orders // 3), [f"L{i}" for i in range(n)], args.rate)
        print(f"| {row['symbols']} | {row['rate']:.0f} | {row['orders']} | {row['p50_ms']:.0f} | "
              f"{row['p95_ms']:.0f} |", flush=True)
    print(f"\ntable items at the end of each drain run: {[r['table_items'] for r in rows]}; "
          f"run id {uuid.uuid4().hex[:8]}")


if __name__ == "__main__":
    main()
