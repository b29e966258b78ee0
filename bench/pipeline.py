"""Pipeline benchmark (`make bench-pipeline`): the matcher on the local stack, group commit vs one
transaction per message, 1 and 4 symbols, in one run.

Two measurements per configuration, each on a fresh stack:
- drain: orders are submitted over HTTP while the matcher (and the stream projector, which is not
  on the submit->fill path) is stopped, then the matcher starts and drains the queue.
  msgs/s = orders / (last commit - matcher start). Batches are full, so the cycle breakdown
  (receive / engine / commit / delete / publish, from the matcher's own counters) gives the
  cycle-time ceiling 10 / cycle per symbol, which the measured rate is compared with. The
  configurations run interleaved for --repeat rounds and the table shows medians (the machine is
  shared: one run of a configuration can be a third slower than the next).
- live: orders submitted at a steady rate with the matcher running; submit->fill latency from the
  stored timestamps (acceptedAt of the taker -> the trade's commit ts; one machine, one clock).
- scale-out: 4 symbols drained by 1, 2 and 4 matcher processes that split the shards by lease
  (the processes are frozen with SIGSTOP while the queues fill, then all woken at once), and
  the takeover time after kill -9 of one of two processes under a steady flow: from the kill to
  the new holder's take (lease expiry + a keeper tick) and to its first commit.
Prints tables; figures go to docs/benchmarks.md with this command.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import threading
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
    log = handle.stack.children["matcher-1"].log_path.read_text().splitlines()
    lines = [json.loads(line) for line in log if '"cycle breakdown"' in line]
    return lines[-1] if lines else {}


def _wait_drained(handle: StackHandle, timeout: float) -> None:
    """Until the events queue holds nothing, visible or in flight: the matcher deletes only after
    the commit, so every message is then committed. Polled with GetQueueAttributes, which costs the
    stand-in next to nothing: a table scan per poll (the ledger's check) holds moto's DynamoDB lock
    for tens of milliseconds and would slow the matcher it measures."""
    sqs = handle.boto("sqs")
    deadline = time.monotonic() + timeout
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while time.monotonic() < deadline:
        pending = 0
        for symbol in handle.symbols:
            attributes = sqs.get_queue_attributes(QueueUrl=handle.queue_url(symbol),
                                                  AttributeNames=names)["Attributes"]
            pending += sum(int(attributes.get(name, "0")) for name in names)
        if pending == 0:
            return
        time.sleep(0.2)
    raise AssertionError("the events queue did not drain")


def drain(count: int, symbols: list[str], mode: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_stack(Path(tmp) / "stack", symbols=",".join(symbols),
                             extra_env={"MATCHER_COMMIT": mode, "SWEEPER_MIN_AGE_S": "3600"})
        try:
            handle.stack.stop_child("matcher-1")
            # The stream projector (Streams -> Postgres for the admin) is not on the submit->fill
            # path; in a deployment it runs on its own compute. Here it would share the 2 cores
            # and moto's table lock with the matcher it measures, so drain rows run without it.
            handle.stack.stop_child("projector")
            ids = _submit(handle, _flow(count, symbols), threads=16)
            handle.stack.start_matcher()  # returns once its loop runs: start the clock there
            started_ms = time.time() * 1000
            _wait_drained(handle, timeout=900)
            wait_until_matched(handle, ids, timeout=60)  # the state of record agrees
            stored = orders(handle)
            last_commit = max(_ms(o["updatedAt"]["S"]) for o in stored.values())
            handle.stack.stop_child("matcher-1")
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


STAGES = ("receive", "engine", "commit", "delete", "publish")


def _median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration over its rounds: medians of the rate and of each cycle stage."""
    stages = {s: statistics.median(float(r["cycle"].get(f"{s}Ms", 0)) for r in runs) for s in STAGES}
    cycle_ms = sum(stages.values())
    per_batch = statistics.median(r["msgs_per_batch"] for r in runs)
    symbols = runs[0]["symbols"]
    return {"symbols": symbols, "mode": runs[0]["mode"], "orders": runs[0]["orders"],
            "msgs_per_s": statistics.median(r["msgs_per_s"] for r in runs), "stages": stages,
            "cycle_ms": cycle_ms, "msgs_per_batch": per_batch,
            "ceiling": symbols * per_batch / (cycle_ms / 1000) if cycle_ms else 0.0,
            "deliver_ms": statistics.median(float(r["cycle"].get("deliverMs", 0)) for r in runs),
            "table_items": max(r["table_items"] for r in runs), "runs": runs}


def _drain_table(orders: int, repeat: int) -> None:
    runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for _ in range(repeat):
        for n in (1, 4):
            symbols = [f"P{i}" for i in range(n)]
            for mode in ("group", "per_message"):
                row = drain(orders, symbols, mode)
                runs.setdefault((n, mode), []).append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "cycle"}), flush=True)
    rows = [_median_row(runs[key]) for key in sorted(runs, key=lambda k: (k[0], k[1] != "group"))]
    print(f"\n{repeat} rounds; medians. cycle ms = receive/engine/commit/delete/publish "
          "(publish = the hand-over to the ordered publisher; off-path = its own time per batch)")
    print("\n| symbols | commit | orders | msgs/s | msgs/batch | cycle ms (recv/engine/commit/"
          "delete/publish) | publish off-path ms | ceiling msgs/s | % of ceiling | "
          "group ÷ per-message: median of rounds (rounds) |")
    print("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|")
    for row in rows:
        peer = next(r for r in rows if r["symbols"] == row["symbols"] and r["mode"] == "per_message")
        stages = "/".join(f"{row['stages'][s]:.1f}" for s in STAGES)
        # Same-round ratios: the two runs of a round are adjacent in time, so machine noise
        # (other work on the box) affects both alike; the table shows their median.
        ratios = [g["msgs_per_s"] / p["msgs_per_s"] for g, p in
                  zip(row["runs"], peer["runs"], strict=True)]
        rounds = "/".join(f"{r:.1f}" for r in ratios)
        print(f"| {row['symbols']} | {row['mode']} | {row['orders']} | {row['msgs_per_s']:.1f} | "
              f"{row['msgs_per_batch']:.1f} | {row['cycle_ms']:.1f} ({stages}) | "
              f"{row['deliver_ms']:.1f} | {row['ceiling']:.1f} | "
              f"{100 * row['msgs_per_s'] / row['ceiling']:.0f} % | "
              f"{statistics.median(ratios):.1f}× ({rounds}) |")
    print(f"\ntable items at the end of each drain run (max over rounds): "
          f"{[r['table_items'] for r in rows]}; run id {uuid.uuid4().hex[:8]}")



def _wait_split(handle: StackHandle, processes: int, timeout: float = 60.0) -> None:
    """Until the shards are spread over the processes as the fair share says."""
    symbols = len(handle.symbols)
    share = -(-symbols // processes)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held: dict[str, int] = {}
        for row in handle.stack.shard_holders():
            held[row["process"]] = held.get(row["process"], 0) + 1
        if "" not in held and len(held) == min(processes, symbols) and max(held.values()) <= share:
            return
        time.sleep(0.3)
    raise AssertionError(f"the shards did not split over {processes} processes")


def scale_out_drain(count: int, processes: int) -> dict[str, Any]:
    """4 symbols, `processes` matcher processes holding them by lease; the queues fill while the
    processes are frozen (SIGSTOP; a long lease TTL keeps the leases theirs meanwhile), then all
    are woken at once and drain: msgs/s = orders / (last commit - wake-up)."""
    symbols = [f"S{i}" for i in range(4)]
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_stack(Path(tmp) / "stack", symbols=",".join(symbols), matchers=processes,
                             extra_env={"MATCHER_LEASE_TTL_S": "300",
                                        "SWEEPER_MIN_AGE_S": "3600"})
        try:
            handle.stack.stop_child("projector")  # not on the submit->fill path (drain rows)
            _wait_split(handle, processes)
            groups = [handle.stack.children[name].process.pid
                      for name in handle.stack.matcher_names]
            for pid in groups:
                os.killpg(pid, signal.SIGSTOP)
            ids = _submit(handle, _flow(count, symbols), threads=16)
            started_ms = time.time() * 1000
            for pid in groups:
                os.killpg(pid, signal.SIGCONT)
            _wait_drained(handle, timeout=900)
            wait_until_matched(handle, ids, timeout=60)
            last_commit = max(_ms(o["updatedAt"]["S"]) for o in orders(handle).values())
            return {"processes": processes, "symbols": len(symbols), "orders": count,
                    "msgs_per_s": count / ((last_commit - started_ms) / 1000)}
        finally:
            handle.stop()


def takeover(rate: float, seconds: float) -> dict[str, Any]:
    """Two processes, 4 symbols, a steady flow; kill -9 the process holding the first symbol
    and time, for each shard it held, the new holder's take and its first commit after the
    kill. Default lease TTL (MATCHER_LEASE_TTL_S) and visibility timeout; no supervisor, so
    the killed process stays dead and the survivor takes every shard."""
    symbols = [f"T{i}" for i in range(4)]
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_stack(Path(tmp) / "stack", symbols=",".join(symbols), matchers=2)
        try:
            _wait_split(handle, 2)
            flowing = threading.Event()
            flowing.set()
            count = int(rate * seconds)

            def feed() -> None:
                traders = [Trader(handle, f"k{i}") for i in range(4)]
                flow = _flow(count, symbols)
                start = time.monotonic()
                for index, (symbol, side, price, tif) in enumerate(flow):
                    if not flowing.is_set():
                        return
                    time.sleep(max(0.0, start + index / rate - time.monotonic()))
                    # makers and takers differ (no self-trade prevention)
                    traders[index % 2 + (0 if side == "SELL" else 2)].place(
                        symbol, side, 1, price, tif)

            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
            time.sleep(seconds / 3)
            rows = handle.stack.shard_holders()
            victim = next(r["process"] for r in rows if r["symbol"] == symbols[0])
            lost = [r["symbol"] for r in rows if r["process"] == victim]
            killed_ms = time.time() * 1000
            handle.stack.kill(victim)
            feeder.join()
            flowing.clear()
            ddb = handle.boto("dynamodb")
            takes, resumes = [], []
            for symbol in lost:
                shard = next(r for r in handle.stack.shard_holders() if r["symbol"] == symbol)
                assert shard["process"] != victim, f"{symbol} was never taken over"
                item = ddb.get_item(TableName=handle.env["TRADES_TABLE"], ConsistentRead=True,
                                    Key={"pk": {"S": f"SHARD#{symbol}"},
                                         "sk": {"S": f"SHARD#{symbol}"}})["Item"]
                takes.append(_ms(item["takenAt"]["S"]) - killed_ms)
                after = [_ms(t["ts"]["S"]) for t in trades(handle, symbol)
                         if _ms(t["ts"]["S"]) > killed_ms]
                resumes.append(min(after) - killed_ms if after else float("nan"))
            return {"take_s": max(takes) / 1000, "resume_s": max(resumes) / 1000,
                    "shards_moved": len(lost)}
        finally:
            handle.stop()


def _scale_out_tables(orders: int, repeat: int) -> None:
    runs: dict[int, list[float]] = {}
    for _ in range(repeat):
        for processes in (1, 2, 4):
            row = scale_out_drain(orders, processes)
            runs.setdefault(processes, []).append(row["msgs_per_s"])
            print(json.dumps(row), flush=True)
    base = statistics.median(runs[1])
    print(f"\n{repeat} rounds; medians. 4 symbols, group commit, {orders} orders per drain")
    print("\n| matcher processes | msgs/s | ÷ 1 process (rounds) |")
    print("|---:|---:|---:|")
    for processes, rates in sorted(runs.items()):
        ratios = "/".join(f"{r / b:.2f}" for r, b in zip(rates, runs[1], strict=True))
        print(f"| {processes} | {statistics.median(rates):.1f} | "
              f"{statistics.median(rates) / base:.2f}× ({ratios}) |")
    moves = [takeover(rate=20.0, seconds=24.0) for _ in range(repeat)]
    for move in moves:
        print(json.dumps(move), flush=True)
    print("\n| after kill -9 of 1 of 2 processes (default lease TTL) | median s | rounds |")
    print("|---|---:|---|")
    for key, label in (("take_s", "kill -> every lost shard taken"),
                       ("resume_s", "kill -> every lost shard committing again")):
        values = [m[key] for m in moves]
        print(f"| {label} | {statistics.median(values):.1f} | "
              f"{'/'.join(f'{v:.1f}' for v in values)} |")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--rate", type=float, nargs="+", default=[10.0, 40.0],
                        help="live submissions per second; one live row per rate and symbol count "
                             "(40/s is about what the accept path sustains on 2 cores, 10/s leaves "
                             "the box room)")
    parser.add_argument("--live-only", action="store_true", help="skip the drain rows")
    parser.add_argument("--scale-out-only", action="store_true",
                        help="only the matcher-process rows (1/2/4 processes, takeover time)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds; each runs every configuration once, interleaved (the machine "
                             "is shared and noisy), and the table shows the medians")
    args = parser.parse_args()
    if args.scale_out_only:
        _scale_out_tables(args.orders, args.repeat)
        return
    if not args.live_only:
        _drain_table(args.orders, args.repeat)
        _scale_out_tables(args.orders, args.repeat)
    print("\n| symbols | live rate /s | orders | submit→fill p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|")
    for rate in args.rate:
        for n in (1, 4):
            row = live(max(200, args.orders // 3), [f"L{i}" for i in range(n)], rate)
            print(f"| {row['symbols']} | {row['rate']:.0f} | {row['orders']} | {row['p50_ms']:.0f} | "
                  f"{row['p95_ms']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
