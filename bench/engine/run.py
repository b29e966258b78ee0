"""`make bench-engine`: every engine on both streams, each in its own process; same-run ratios.

    .venv/bin/python -m bench.engine.run [--runs 5] [--n 200000] [--streams growing,bounded]

Per (engine, stream): msgs/s is the best of ``--runs`` timed runs (fresh engine each, inputs built
untimed); per-message p50/p99/p99.9 come from one run per round that timestamps every message (the
lowest of the rounds is shown, for every engine alike).  The runs are taken in rounds: each round
starts one fresh process per engine, in turn, for one timed and one timestamped run, so a burst of
load on a shared machine hits one sample of several engines rather than every sample of one.  Every
engine must reproduce the bare book's traded quantity, fill checksum and cancel count, or the run
fails.  Ratios are to (b) the bare book and (c) liquibook through its Python binding.

Rows (a), (a') and (a'-py) all run the real engine, which builds every event and the L2 delta of
every command; they differ in the build and in who reads the events (see ``adapters.py`` and
``driver.py``): (a) the interpreted engine, read by the interpreted loop; (a') the mypyc build, read
by ``driver.step`` compiled with it; (a'-py) the mypyc build, read by the interpreted loop.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from typing import cast

ENGINES = [
    "engine",
    "engine-mypyc",
    "engine-mypyc-py",
    "bare",
    "liquibook",
    "pyorderbook",
    "lightmatchingengine",
]
ENGINE_ROWS = ("engine", "engine-mypyc", "engine-mypyc-py")
LABELS = {
    "engine": "(a) matching.engine (interpreted)",
    "engine-mypyc": "(a') matching.engine (mypyc; events read by compiled step)",
    "engine-mypyc-py": "(a'-py) matching.engine (mypyc; events read by the Python loop)",
    "bare": "(b) bare dict+deque+bisect",
    "liquibook": "(c) liquibook 2.0.1 via Python",
    "pyorderbook": "(d) pyorderbook 0.4.9",
    "lightmatchingengine": "(e) lightmatchingengine 2019.1.4",
}


def _one(engine: str, stream_name: str, n: int, runs: int) -> dict[str, object]:
    """Runs inside the child process: ``runs`` timed runs, then one timestamped run."""
    from bench.engine import adapters
    from bench.engine.streams import make_stream

    if engine in ENGINE_ROWS:
        from matching.engine import COMPILED as compiled

        if (engine != "engine") != compiled:
            return {"skipped": f"compiled={compiled} (run `make engine-compiled` for the mypyc build)"}
        if engine == "engine-mypyc":
            try:
                adapters.load_compiled_driver()
            except ImportError as exc:
                return {"skipped": str(exc)}
    prepare = adapters.PREPARE[engine]
    stream = make_stream(stream_name, n)
    best = float("inf")
    result = None
    for _ in range(runs):
        run = prepare(stream)
        gc.collect()
        gc.disable()  # the same for every engine: measure the matcher, not the collector's timing
        t0 = time.perf_counter()
        out = run(None)
        dt = time.perf_counter() - t0
        gc.enable()
        best = min(best, dt)
        assert result is None or out == result, "non-deterministic result"
        result = out
        del run
    run = prepare(stream)
    lat: list[int] = []
    gc.collect()
    gc.disable()
    run(lat)
    gc.enable()
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] / 1000.0

    assert result is not None
    return {
        "msgs_per_s": len(stream) / best,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "volume": result[0],
        "checksum": result[1],
        "cancels": result[2],
    }


def _child(engine: str, stream: str, n: int) -> dict[str, object]:
    """One round of one engine, in a fresh process (one timed run and one timestamped run)."""
    cmd = [sys.executable, "-m", "bench.engine.run", "--one", engine, stream, "--n", str(n), "--runs", "1"]
    # (a) is always the interpreted source; (a')/(a'-py) only run when the mypyc build is present.
    env = dict(os.environ, TULIP_ENGINE_PURE="1" if engine == "engine" else "")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        return {"skipped": "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]}
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _merge(acc: dict[str, object] | None, new: dict[str, object]) -> dict[str, object]:
    """Best msgs/s and lowest percentiles over the rounds; the totals must never change."""
    if acc is None or "skipped" in new:
        return new
    for k in ("volume", "checksum", "cancels"):
        if acc[k] != new[k]:
            return {"skipped": f"non-deterministic {k}: {acc[k]} then {new[k]}"}
    merged = dict(acc)
    merged["msgs_per_s"] = max(cast(float, acc["msgs_per_s"]), cast(float, new["msgs_per_s"]))
    for k in ("p50_us", "p99_us", "p999_us"):
        merged[k] = min(cast(float, acc[k]), cast(float, new[k]))
    return merged


def _resting(stream_name: str, n: int) -> tuple[int, int]:
    """Max and final resting-order count of the stream (from the engine), for the table header."""
    from bench.engine.streams import make_stream
    from matching.engine import BookEngine, CancelOrder, PlaceOrder

    e = BookEngine("BENCH")
    peak = 0
    for i, (op, oid, is_buy, price, qty, ioc) in enumerate(make_stream(stream_name, n)):
        sid = str(oid)
        if op:
            e.apply(CancelOrder(sid, "u" + sid, i))
        else:
            e.apply(
                PlaceOrder(
                    sid, "u" + sid, "BUY" if is_buy else "SELL", price, qty, i, "IOC" if ioc else "GTC"
                )
            )
        if i % 1000 == 0:
            peak = max(peak, e.resting_count())
    return peak, e.resting_count()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--streams", default="growing,bounded")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--one", nargs=2, metavar=("ENGINE", "STREAM"), help=argparse.SUPPRESS)
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.one[0], args.one[1], args.n, args.runs)))
        return 0
    lines: list[str] = []

    def out(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    out(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{args.n:,} messages per stream; best of {args.runs} rounds; a fresh process per engine and round."
    )
    ok = True
    for stream in args.streams.split(","):
        peak, final = _resting(stream, args.n)
        out()
        out(f"### Stream `{stream}` (resting orders: peak {peak:,}, final {final:,})")
        out()
        out("| engine | msgs/s | p50 µs | p99 µs | p99.9 µs | x (b) | x (c) | traded | checksum | cancels |")
        out("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        res: dict[str, dict[str, object]] = {}
        for _ in range(args.runs):
            for eng in args.engines.split(","):
                if "skipped" in res.get(eng, {}):
                    continue
                res[eng] = _merge(res.get(eng), _child(eng, stream, args.n))
        ref = res.get("bare", {})
        lb = res.get("liquibook", {})
        for eng in args.engines.split(","):
            r = res[eng]
            if "skipped" in r:
                out(f"| {LABELS[eng]} | — skipped: {r['skipped']} | | | | | | | | |")
                continue
            same = all(r[k] == ref.get(k) for k in ("volume", "checksum", "cancels"))
            ok &= same
            rb = f"{r['msgs_per_s'] / ref['msgs_per_s']:.2f}" if "msgs_per_s" in ref else "—"  # type: ignore[operator]
            rc = f"{r['msgs_per_s'] / lb['msgs_per_s']:.2f}" if "msgs_per_s" in lb else "—"  # type: ignore[operator]
            out(
                f"| {LABELS[eng]} | {r['msgs_per_s']:,.0f} | {r['p50_us']:.2f} | {r['p99_us']:.2f} | "
                f"{r['p999_us']:.2f} | {rb} | {rc} | {r['volume']:,} | {int(r['checksum']) % 10**12:012d} | "  # type: ignore[call-overload]
                f"{r['cancels']:,}{'' if same else ' **MISMATCH**'} |"
            )
        if "p99_us" in ref:
            for eng in ENGINE_ROWS:
                r = res.get(eng, {})
                if "p99_us" in r:
                    out(f"\n{LABELS[eng]}: p99 = {r['p99_us'] / ref['p99_us']:.2f}x the bare book's p99")  # type: ignore[operator]
    out()
    out(
        "All engines agree on traded qty, fill checksum and cancels."
        if ok
        else "RESULTS DIFFER (see MISMATCH)"
    )
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
