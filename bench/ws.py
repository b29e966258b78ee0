"""WebSocket fan-out benchmark (`make bench-ws` / `.venv/bin/python -m bench.ws`).

Starts the local stack (no matcher), connects N clients to /ws subscribed to `trades:BENCH`,
then publishes trade messages through the real `ChannelsPublisher` (the matcher's path after a
commit: Redis channel layer -> Channels consumer -> bounded outbox -> socket). Each message
carries its publish wall-clock time (`pubNs`); every client records receive time, so latency is
commit->client (same host, same clock). Phases: paced at each of `--rates` (a matcher-like rate,
in batches of 10: latency at a known load) and a burst (as fast as the publisher goes: the
fan-out rate, deliveries/s, at saturation). One ASGI process serves every client."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import websockets

from realtime.publisher import ChannelsPublisher
from tests.support.stack import StackHandle, start_stack
from tulip.config import load_config

SYMBOL = "BENCH"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def client(url: str, expected: int, latencies: list[float], ready: asyncio.Event,
                 counter: list[int], total: int) -> None:
    async with websockets.connect(url, max_size=2**20, open_timeout=30) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topics": [f"trades:{SYMBOL}"]}))
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
        counter[0] += 1
        if counter[0] == total:
            ready.set()
        got = 0
        while got < expected:
            raw = await asyncio.wait_for(ws.recv(), 60)
            now = time.time_ns()
            message = json.loads(raw)
            if message.get("type") == "trade":
                latencies.append((now - message["pubNs"]) / 1e6)
                got += 1


def publish(publisher: ChannelsPublisher, start: int, count: int, rate: float | None,
            batch: int) -> float:
    """Publish `count` trades in batches of `batch`; paced to `rate`/s if given. Returns seconds."""
    began = time.perf_counter()
    seq = start
    while seq < start + count:
        n = min(batch, start + count - seq)
        messages = [{"type": "trade", "topic": f"trades:{SYMBOL}", "seq": s, "prevSeq": s - 1,
                     "tradeId": f"{SYMBOL}-{s:012d}", "price": "100.00", "qty": 1,
                     "takerSide": "BUY", "ts": "", "pubNs": time.time_ns()}
                    for s in range(seq, seq + n)]
        publisher.publish(f"trades.{SYMBOL}", messages)
        seq += n
        if rate:
            target = began + (seq - start) / rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    return time.perf_counter() - began


async def phase(stack: StackHandle, publisher: ChannelsPublisher, clients: int, start: int,
                count: int, rate: float | None, batch: int) -> dict[str, Any]:
    url = stack.url.replace("http://", "ws://") + "/ws?token=" + stack.token("alice")
    latencies: list[float] = []
    ready = asyncio.Event()
    counter = [0]
    tasks = [asyncio.create_task(client(url, count, latencies, ready, counter, clients))
             for _ in range(clients)]
    await asyncio.wait_for(ready.wait(), 60)
    began = time.perf_counter()
    publish_s = await asyncio.to_thread(publish, publisher, start, count, rate, batch)
    _done, pending = await asyncio.wait(tasks, timeout=60)
    for task in pending:
        task.cancel()
    elapsed = time.perf_counter() - began
    deliveries = len(latencies)
    return {"clients": clients, "messages": count, "rate": rate or "max", "batch": batch,
            "publish_s": publish_s, "elapsed_s": elapsed, "deliveries": deliveries,
            "fanout_per_s": deliveries / elapsed, "p50": pct(latencies, 0.50),
            "p95": pct(latencies, 0.95), "p99": pct(latencies, 0.99),
            "max": max(latencies) if latencies else float("nan"),
            "mean": statistics.fmean(latencies) if latencies else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each paced phase")
    parser.add_argument("--rates", default="20,60",
                        help="paced publish rates, msgs/s, comma-separated (x clients = "
                             "deliveries/s: 60 x 100 clients is half the 12,000/s target)")
    parser.add_argument("--burst", type=int, default=2000,
                        help="messages in the burst phase (published in batches of 10: the "
                             "channel layer's capacity of 1,000 counts batches)")
    args = parser.parse_args(argv)
    stack = start_stack(Path(tempfile.mkdtemp(prefix="bench-ws-")), with_worker=False,
                        symbols=SYMBOL, extra_env={"WS_SEND_QUEUE_MAX": "100000"})
    publisher = ChannelsPublisher(stack.env["REDIS_URL"], stack.env["REDIS_KEY_PREFIX"],
                                  load_config(stack.env))
    try:
        rows = []
        start = 1
        for rate in (float(r) for r in args.rates.split(",") if r):
            count = max(10, int(rate * args.seconds))
            rows.append(asyncio.run(phase(stack, publisher, args.clients, start, count, rate, 10)))
            start += 1_000_000
        rows.append(asyncio.run(phase(stack, publisher, args.clients, start, args.burst, None, 10)))
    finally:
        publisher.close()
        stack.stop()
    header = ("| clients | messages | publish rate (msg/s) | deliveries | fan-out (deliveries/s) "
              "| p50 ms | p95 ms | p99 ms | max ms |")
    print(header)
    print("|" + "---|" * 9)
    for r in rows:
        print(f"| {r['clients']} | {r['messages']} | {r['rate']} | {r['deliveries']} | "
              f"{r['fanout_per_s']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
              f"{r['max']:.1f} |")
    print(f"threads alive: {threading.active_count()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
