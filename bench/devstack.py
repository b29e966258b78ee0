"""Benchmark: the local moto stand-in, patched (TulipBroker's fixes) vs unpatched (stock moto 5.2.5).

    .venv/bin/python -m bench.devstack [--quick] [--out docs/benchmarks.md (local stack section)]

For each variant and table size (0 / 5,000 / 20,000 items, Streams on, NEW_AND_OLD_IMAGES) a fresh
server process is started, the table filled with BatchWriteItem, then TransactWriteItems of 2 and
of 20 Puts are timed (p50/p95, client-side wall time) and the server's RSS growth over those
transactions is read from /proc/<pid>/status. Unpatched sample counts are small at large sizes
(one 20-operation transaction takes ~25 s and ~1-2 GB there). Also: FIFO SendMessage and 10-message
ReceiveMessage latency at 100 / 1,000 queued messages. And the matcher's own commit: a
TransactWriteItems of N realistic matcher items (N = 3, 30, 60: trade and event Puts, merged order
Updates with SET/ADD/REMOVE and the open-state condition, the fenced shard Update; built by
``tests/integration/devstack/matcher_items.py`` on tables shaped as provisioned: GSIs with ALL
projection, Streams NEW_AND_OLD_IMAGES). ``--matcher-only`` runs just that part and prints it.
Benchmarks only: never part of the tests.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tulip.aws import LOCAL_CREDENTIALS_ENV

REPO = Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m bench.devstack"
CREDENTIALS = {**LOCAL_CREDENTIALS_ENV, "AWS_DEFAULT_REGION": "us-east-1"}
SIZES = (0, 5_000, 20_000)
OPS = (2, 20)
# samples per (ops) for each (variant, size): unpatched is slow and memory-hungry at size
SAMPLES: dict[tuple[bool, int], dict[int, int]] = {
    (True, 0): {2: 50, 20: 30},
    (True, 5_000): {2: 50, 20: 30},
    (True, 20_000): {2: 50, 20: 30},
    (False, 0): {2: 20, 20: 10},
    (False, 5_000): {2: 5, 20: 3},
    (False, 20_000): {2: 3, 20: 2},
}
QUICK_SIZES = (0, 2_000)
MATCHER_ITEMS = (3, 30, 60)
# samples per N for each variant (stock moto copies both tables per operation)
MATCHER_SAMPLES = {True: 40, False: 10}


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=600, connect_timeout=10),
        )

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto(patched: bool) -> Iterator[Server]:
    port = _free_port()
    cmd = [sys.executable, "-m", "devstack.moto_server", "--host", "127.0.0.1", "--port", str(port)]
    if not patched:
        cmd.append("--unpatched")
    process = subprocess.Popen(
        cmd,
        cwd=REPO,
        env={**os.environ, **CREDENTIALS},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(60)
        if not lines or not lines[0].startswith("moto ready on "):
            raise RuntimeError(f"moto did not start: {lines!r}")
        yield Server(process, lines[0].split()[-1])
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def _fill(ddb: Any, table: str, count: int) -> None:
    for start in range(0, count, 25):
        ddb.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": f"ORDER#{n:08d}"},
                                "status": {"S": "OPEN"},
                                "side": {"S": "BUY" if n % 2 else "SELL"},
                                "qty": {"N": "100"},
                                "price": {"N": str(100 + n % 50)},
                                "filledQty": {"N": "0"},
                                "clientId": {"S": f"client-{n % 97}"},
                                "idempotencyKey": {"S": uuid.UUID(int=n).hex},
                            }
                        }
                    }
                    for n in range(start, min(start + 25, count))
                ]
            }
        )


def bench_transactions(patched: bool, size: int, samples: dict[int, int]) -> dict[str, Any]:
    with moto(patched) as server:
        ddb = server.client("dynamodb")
        table = f"bench-{uuid.uuid4().hex[:8]}"
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        _fill(ddb, table, size)
        rss_before = server.rss_mb()
        result: dict[str, Any] = {"rss_before": rss_before, "transactions": 0}
        for ops in OPS:
            times: list[float] = []
            for k in range(samples[ops]):
                items = [
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {"pk": {"S": f"TX#{ops}-{k}-{i}"}, "qty": {"N": "1"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                    for i in range(ops)
                ]
                started = time.perf_counter()
                ddb.transact_write_items(TransactItems=items)
                times.append((time.perf_counter() - started) * 1000)
            result[ops] = (_percentile(times, 50), _percentile(times, 95), len(times))
            result["transactions"] += len(times)
        result["rss_growth"] = server.rss_mb() - rss_before
        return result


def bench_matcher(patched: bool, samples: int) -> dict[int, tuple[float, float, int, float]]:
    """p50 / p95 (ms) of the matcher's TransactWriteItems of ~N items, samples, mean item count."""
    from tests.integration.devstack.matcher_items import MatcherScenario, create_matcher_tables

    out: dict[int, tuple[float, float, int, float]] = {}
    with moto(patched) as server:
        ddb = server.client("dynamodb")
        scenario = MatcherScenario(ddb, *create_matcher_tables(ddb))
        for size in MATCHER_ITEMS:
            for _ in range(2):  # warm-up (first use of each expression string)
                ddb.transact_write_items(TransactItems=scenario.transaction(size))
                scenario.committed()
            times: list[float] = []
            counts: list[int] = []
            for _ in range(samples):
                items = scenario.transaction(size)
                started = time.perf_counter()
                ddb.transact_write_items(TransactItems=items)
                times.append((time.perf_counter() - started) * 1000)
                scenario.committed()
                counts.append(len(items))
            out[size] = (_percentile(times, 50), _percentile(times, 95), len(times), statistics.mean(counts))
    return out


def render_matcher(matcher: dict[bool, dict[int, tuple[float, float, int, float]]]) -> str:
    lines = [
        "| matcher transaction (N items) | mean items | variant | p50 (ms) | p95 (ms) | samples "
        "| p50 per item (ms) |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for size in MATCHER_ITEMS:
        for patched in (False, True):
            p50, p95, count, items = matcher[patched][size]
            variant = "patched" if patched else "unpatched"
            lines.append(f"| {size} | {items:.1f} | {variant} | {p50:,.1f} | {p95:,.1f} | {count} "
                         f"| {p50 / items:.2f} |")
    return "\n".join(lines)


def bench_fifo(patched: bool, depths: tuple[int, ...] = (100, 1_000), samples: int = 20) -> dict[int, Any]:
    out: dict[int, Any] = {}
    with moto(patched) as server:
        sqs = server.client("sqs")
        for depth in depths:
            url = sqs.create_queue(
                QueueName=f"bench-{uuid.uuid4().hex[:8]}.fifo",
                Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"},
            )["QueueUrl"]
            sent = 0

            def send_batch(base: int, queue_url: str = url) -> None:
                sqs.send_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {
                            "Id": str(i),
                            "MessageBody": f'{{"order": {base + i}}}',
                            "MessageGroupId": f"market-S{(base + i) % 50}",
                            "MessageDeduplicationId": str(base + i),
                        }
                        for i in range(10)
                    ],
                )

            for _ in range(depth // 10):
                send_batch(sent)
                sent += 10
            receive_ms: list[float] = []
            send_ms: list[float] = []
            for _ in range(samples):
                started = time.perf_counter()
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                receive_ms.append((time.perf_counter() - started) * 1000)
                if got:
                    sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                        ],
                    )
                started = time.perf_counter()
                sqs.send_message(
                    QueueUrl=url,
                    MessageBody="x",
                    MessageGroupId=f"market-S{sent % 50}",
                    MessageDeduplicationId=f"single-{sent}",
                )
                send_ms.append((time.perf_counter() - started) * 1000)
                sent += 1
                send_batch(sent)  # keep the depth roughly constant
                sent += 10
            out[depth] = (statistics.median(receive_ms), statistics.median(send_ms))
    return out


def render(
    tx: dict[tuple[bool, int], dict[str, Any]], fifo: dict[bool, dict[int, Any]], sizes: tuple[int, ...]
) -> str:
    lines = [
        "| items | variant | 2 ops p50 / p95 (ms) | 20 ops p50 / p95 (ms) | samples (2 / 20 ops) "
        "| RSS growth over those transactions | per transaction |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for patched in (False, True):
            r = tx[(patched, size)]
            p2, p20 = r[2], r[20]
            lines.append(
                f"| {size:,} | {'patched' if patched else 'unpatched'} "
                f"| {p2[0]:,.0f} / {p2[1]:,.0f} | {p20[0]:,.0f} / {p20[1]:,.0f} | {p2[2]} / {p20[2]} "
                f"| {r['rss_growth']:+,.1f} MB | {r['rss_growth'] / r['transactions']:+,.2f} MB |"
            )
    if fifo:
        lines += [
            "",
            "| FIFO queued messages | variant | ReceiveMessage (10) p50 (ms) | SendMessage p50 (ms) |",
            "|---:|---|---:|---:|",
        ]
        for depth in sorted(next(iter(fifo.values()))):
            for patched in (False, True):
                receive_ms, send_ms = fifo[patched][depth]
                variant = "patched" if patched else "unpatched"
                lines.append(f"| {depth:,} | {variant} | {receive_ms:,.1f} | {send_ms:,.1f} |")
    return "\n".join(lines)


def document(table: str, elapsed: float, when: datetime.datetime, matcher_table: str = "") -> str:
    import moto

    from devstack.moto_patches import fix_modules

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    fixes = "\n".join(
        f"- `{module.NAME}`: {(module.__doc__ or '').splitlines()[0].split(': ', 1)[-1]}"
        for module in fix_modules()
    )
    return f"""# Local stack benchmark: moto fixes (patched) vs stock moto {moto.__version__} (unpatched)

Command: `{COMMAND}` (Makefile target `bench-devstack`). One run measures both variants, with a
fresh server process (`python -m devstack.moto_server [--unpatched]`) per variant and
table size. Run {when:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs ({cpu}), Python
{platform.python_version()}, moto {moto.__version__}; {elapsed:.0f} s in all.

TransactWriteItems of 2 and 20 conditional Puts (`attribute_not_exists(pk)`) on a table with
Streams on (NEW_AND_OLD_IMAGES) already holding N order-shaped items; client-side wall time per
call. RSS growth: server VmRSS after minus before all of that size's transactions. Unpatched
sample counts are small at 5,000 and 20,000 items (seconds per call there, and every table copy is
kept in memory), so their p95 is close to their max.

{table}

FIFO: a queue holding N messages over 50 groups; each sample receives up to 10 messages (no long
poll), deletes them, sends one message (timed) and refills with a batch of 10.

The matcher's commit (`--matcher-only` runs just this part): one TransactWriteItems of ~N
realistic matcher items (trade and event Puts with `attribute_not_exists`, merged order Updates
`SET … ADD filledNotionalTicks … REMOVE openSymbol, openSort` conditioned on
`#st IN (:o1, :o2, :o3) AND filledQty = :expected`, the shard Update fenced on
`epoch = :epoch AND lastSeq = :expected`; N is reached in whole commands, so the mean item count
is shown) on orders/trades tables shaped as provisioned (2-3 GSIs, ALL projection, Streams
NEW_AND_OLD_IMAGES); client-side wall time per call after two warm-up transactions per N.

{matcher_table}

Fixes applied in the patched server (`devstack/moto_patches/`, one module each; the
launcher's moto server refuses any moto other than {moto.__version__}):

{fixes}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.devstack")
    parser.add_argument("--quick", action="store_true", help="small sizes and samples (smoke run)")
    parser.add_argument("--no-fifo", action="store_true")
    parser.add_argument("--matcher-only", action="store_true",
                        help="only the matcher-transaction rows (printed, not written)")
    parser.add_argument("--out", default=str(REPO / "docs" / "bench-devstack.md"))
    args = parser.parse_args(argv)

    sizes = QUICK_SIZES if args.quick else SIZES
    started = time.monotonic()
    matcher: dict[bool, dict[int, tuple[float, float, int, float]]] = {}
    for patched in (True, False):
        print(f"matcher transactions: {'patched' if patched else 'unpatched'} ...", flush=True)
        matcher[patched] = bench_matcher(patched, 3 if args.quick else MATCHER_SAMPLES[patched])
    matcher_table = render_matcher(matcher)
    if args.matcher_only:
        print(matcher_table)
        return 0
    tx: dict[tuple[bool, int], dict[str, Any]] = {}
    for size in sizes:
        for patched in (True, False):
            samples = {2: 3, 20: 2} if args.quick else SAMPLES[(patched, size)]
            print(f"transactions: {'patched' if patched else 'unpatched'} at {size:,} items ...", flush=True)
            tx[(patched, size)] = bench_transactions(patched, size, samples)
    fifo: dict[bool, dict[int, Any]] = {}
    if not args.no_fifo:
        for patched in (True, False):
            print(f"fifo: {'patched' if patched else 'unpatched'} ...", flush=True)
            fifo[patched] = bench_fifo(patched, samples=5 if args.quick else 20)
    table = render(tx, fifo, sizes)
    elapsed = time.monotonic() - started
    print(table)
    print()
    print(matcher_table)
    print(f"\n({elapsed:.0f} s)")

    if not args.quick:
        doc = document(table, elapsed, datetime.datetime.now(datetime.UTC), matcher_table)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(doc)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
