"""Benchmark: what a span costs the process that makes it, exported against sampled out.

    TULIP_ENV=test .venv/bin/python -m bench.tracing [--spans 20000] [--rounds 3]

Per round and mode, a fresh Python process (the tracer provider is per process) sets tracing up
as the services do (tulip/tracing.py: X-Ray ids, the batch processor, the JSON-lines exporter)
and makes N spans shaped like the botocore instrumentation's (a DynamoDB call's name and nine
attributes), flushing the exporter every FLUSH_EVERY spans so that none is dropped; it reports
its CPU time per span (`time.process_time`, the flushes included). Modes: every span exported
(`OTEL_TRACES_SAMPLER=always_on`, what each AWS and Redis call cost before sampling) and the
default rule past its reservoir (what a call costs under load: the reservoir's few spans a second
are exported as above). The modes alternate within each round; medians over rounds. An
end-to-end version (client CPU per boto3 call against moto, with and without spans) could not
resolve the difference: a call's own client CPU (~1 ms) varies by more than a span costs.
Benchmarks only: not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = {"every span exported": {"OTEL_TRACES_SAMPLER": "always_on"}, "sampled out": {}}
FLUSH_EVERY = 1000  # below the batch processor's queue (2,048): nothing is dropped
ATTRIBUTES = {"rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": "GetItem",
              "aws.region": "us-east-1", "db.system": "dynamodb", "db.operation": "GetItem",
              "aws.dynamodb.table_names": ("tulip-orders",), "aws.request_id": "x" * 52,
              "http.status_code": 200}


def _child(spans: int) -> None:
    """Runs in the measured process."""
    from opentelemetry import trace

    from tulip import tracing

    tracing.TRACE_RESERVOIR_PER_S = 0  # past the reservoir, as under load
    assert tracing.setup_tracing("bench")
    tracer = trace.get_tracer("bench")
    provider = trace.get_tracer_provider()

    def make(count: int) -> None:
        for index in range(count):
            with tracer.start_as_current_span("DynamoDB.GetItem", attributes=ATTRIBUTES) as span:
                span.set_attribute("retry_attempts", 0)
            if index % FLUSH_EVERY == FLUSH_EVERY - 1:
                provider.force_flush()  # type: ignore[attr-defined]

    make(FLUSH_EVERY)  # warm up
    started = time.process_time()
    make(spans)
    provider.force_flush()  # type: ignore[attr-defined]
    print(json.dumps({"us": (time.process_time() - started) / spans * 1e6}), flush=True)


def _measure(mode_env: dict[str, str], spans: int, trace_file: Path) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("TULIP_TRACING", "OTEL_TRACES_SAMPLER")}
    env.update(mode_env, TULIP_TRACE_FILE=str(trace_file))
    done = subprocess.run([sys.executable, "-m", "bench.tracing", "--child", str(spans)], env=env,
                          capture_output=True, text=True, check=True)
    exported = len(trace_file.read_text().splitlines()) if trace_file.exists() else 0
    return float(json.loads(done.stdout.strip().splitlines()[-1])["us"]), exported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing")
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0
    results: dict[str, list[tuple[float, int]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as scratch:
        for round_no in range(args.rounds):
            for mode_no, (mode, mode_env) in enumerate(MODES.items()):
                trace_file = Path(scratch) / f"{round_no}-{mode_no}.jsonl"
                results[mode].append(_measure(mode_env, args.spans, trace_file))
    print(f"CPU per span, us (median of {args.rounds} rounds, {args.spans:,} spans each)")
    print("| mode | us per span | spans exported | vs every span exported |")
    print("|---|---:|---:|---:|")
    base = statistics.median(us for us, _ in results["every span exported"])
    for mode, rounds in results.items():
        us = statistics.median(us for us, _ in rounds)
        exported = statistics.median(count for _, count in rounds)
        print(f"| {mode} | {us:,.1f} | {exported:,.0f} | {us / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
