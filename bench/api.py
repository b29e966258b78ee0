"""Accept-path benchmark (`make bench-api`): POST /order latency p50/p95/p99 and requests/s over
real HTTP against the local stack at 1, 8 and 32 concurrent clients (SLO: p95 <= 250 ms).
Each client is a keep-alive HTTP connection with its own token; every request is a new order
(fresh idempotency key), half of them resting, half crossing, so the matcher works too.

Same-run reference: at each concurrency the same clients also run `GET /order/{id}` of one of
their own orders (token verification and one DynamoDB read, the floor any authenticated request
pays on this machine), so the accept path's own cost reads as a ratio to that floor. The CPU
each accept costs the ASGI process, moto (the matcher's calls included) and the stack's other
processes (matcher, worker, projector, Redis): their CPU time over the level ÷ its requests, a
figure that holds still while the box's other load moves the latencies."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.support.stack import start_stack


def run_level(url: str, tokens: list[str], clients: int, per_client: int,
              read_ids: list[str] | None = None) -> dict[str, float]:
    """POST /order (or, given ``read_ids`` — one order id per token — GET /order/{id})."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def worker(index: int) -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        with httpx.Client(base_url=url, timeout=30, headers={
                "Authorization": f"Bearer {tokens[index % len(tokens)]}"}) as http:
            barrier.wait()
            for i in range(per_client):
                if read_ids is not None:
                    started = time.perf_counter()
                    response = http.get(f"/order/{read_ids[index % len(tokens)]}")
                    mine.append(time.perf_counter() - started)
                    failed += response.status_code != 200
                    continue
                side = "BUY" if (index + i) % 2 else "SELL"
                body = {"side": side, "qty": 1, "price": "100.00" if i % 2 else
                        ("99.00" if side == "BUY" else "101.00"),
                        "idempotencyKey": uuid.uuid4().hex}
                started = time.perf_counter()
                response = http.post("/order", json=body)
                mine.append(time.perf_counter() - started)
                failed += response.status_code != 201
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {"clients": clients, "requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50": 1000 * statistics.median(latencies), "p95": pct(0.95), "p99": pct(0.99),
            "errors": errors}


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc): per-request CPU holds still on a box
    whose other load moves the latencies."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_order_each(url: str, tokens: list[str]) -> list[str]:
    ids = []
    for token in tokens:
        body = {"side": "BUY", "qty": 1, "price": "1.00", "idempotencyKey": uuid.uuid4().hex}
        response = httpx.post(f"{url}/order", headers={"Authorization": f"Bearer {token}"},
                              json=body, timeout=30)
        assert response.status_code == 201, response.text
        ids.append(response.json()["orderId"])
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api")
    parser.add_argument("--requests", type=int, default=320, help="requests per level")
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients, comma-separated")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_stack(Path(tmp) / "stack")
        try:
            tokens = [handle.forge_token(sub=str(uuid.uuid4())) for _ in range(32)]
            run_level(handle.url, tokens, 4, 10)  # warm-up: connections, JWKS cache
            read_ids = _one_order_each(handle.url, tokens)
            pids = handle.stack.pids()
            for clients in (int(level) for level in args.levels.split(",")):
                per_client = max(1, args.requests // clients)
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                row = run_level(handle.url, tokens, clients, per_client)
                used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
                for part, names in (("http", {"http"}), ("moto", {"moto"}),
                                    ("rest", set(pids) - {"http", "moto"})):
                    row[f"{part}_cpu_ms"] = 1000 * sum(used[n] for n in names) / row["requests"]
                rows.append((row, run_level(handle.url, tokens, clients, per_client, read_ids)))
        finally:
            handle.stop()
    print("\n| concurrent clients | requests | req/s | p50 ms | p95 ms | p99 ms | non-201 "
          "| floor: GET /order p50 / p95 ms | accept p95 / floor p95 "
          "| CPU ms per accept: ASGI / moto / the stack's other processes |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r, floor in rows:
        print(f"| {r['clients']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.1f} | "
              f"{r['p95']:.1f} | {r['p99']:.1f} | {r['errors']} | {floor['p50']:.1f} / {floor['p95']:.1f} "
              f"| {r['p95'] / floor['p95']:.2f} | {r['http_cpu_ms']:.2f} / {r['moto_cpu_ms']:.2f} / "
              f"{r['rest_cpu_ms']:.2f} |")


if __name__ == "__main__":
    main()
