"""The chaos driver: a supervised local stack of real processes under steady trading load, with
faults injected while it trades, then the checker (tests/chaos/checker.py) over what the clients
were told and what DynamoDB holds.

What runs (one `LocalStack`, as `make run` starts it, supervised: a child that dies is started
again by devstack/supervisor.py):
  moto server, an embedded Redis started by this stack (never the machine's REDIS_URL), the ASGI
  server ("http"), the Celery tasks worker with the sweeper ("worker"), N matcher processes
  ("matcher-1..N") splitting the symbols' shards by lease, the stream projector.
Load: several traders, each a thread with its own client id and HTTP client, submitting GTC, IOC
and FOK limit orders around one price (some crossing), cancelling their own resting orders,
re-sending some submits with the same idempotency key after the answer (duplicate sends) and some
twice at once. Every client retries a connection error, a timeout or a 5xx with the SAME key and
body (a real trader would), with capped exponential backoff and jitter.
Faults, at seeded moments while the load runs, in two streams at once: kill -9 of matcher
processes (preferably ones holding shards), one every `fault_every_s`; and, spread over the same
span, kill -9 of the ASGI server, of the Celery worker and of the stack's own embedded Redis (the
supervisor starts each again; Redis comes back empty on the same port), and injectLatencyMs
windows (the feature-flag override row the ops console's chaos panel writes). A victim is only
killed once it has been up `stable_s`, so that every kill hits a process that had started.
Then: the load stops, every child is running again, the pipeline goes quiet (no order left
ACCEPTED, every queue empty), and the checker runs. Everything is written to the history
(tests/chaos/history.py) in the run's directory, next to the stack's logs.

`python -m tests.chaos.run [--size short|big] [--seed N]` (what `make chaos` runs) prints the
figures and exits 1 on any violation; tests/chaos/test_chaos.py runs the same.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from devstack import supervisor as supervision
from devstack.launcher import PYTHON, REPO_ROOT, redis_reachable
from tests.chaos import checker
from tests.chaos import history as hist
from tests.support import drill
from tests.support.stack import StackHandle, start_stack
from tulip.config import parse_symbols
from tulip.schema import ShardItem, raw_key

MID = 10_000  # ticks: 100.00
# Short leases and visibility timeouts so takeovers and redeliveries fit a run: a killed holder's
# shards are free after 2 s, its in-flight batch back in the queue after 2 s; the sweeper re-sends
# an order whose send was lost (an API killed between its commit and its send) after 2 s.
FAST = {"MATCHER_LEASE_TTL_S": "2", "SWEEPER_INTERVAL_S": "2", "SWEEPER_MIN_AGE_S": "2"}
# With several regions, the region drill's timings (tests/support/drill.py): an isolated leader
# steps down after 3 s, the follower's monitor fails over after 6 s.
REGION_TIMINGS = {"STEP_DOWN_AFTER_S": drill.FAST["STEP_DOWN_AFTER_S"],
                  "FAILOVER_AFTER_S": drill.FAST["FAILOVER_AFTER_S"]}
KILL_KINDS = {"matcher": "matcher", "api": "http", "worker": "worker", "redis": "redis"}
# The region faults (--regions): "partition" cuts the leader region (as the regions report it
# then) off from every other region, waits for a monitor to fail over (automatic), trades for
# `partition_s`, heals, waits for the regions to agree on one leader and for replication to
# catch up, and reconciles in that leader's region (`reconcile --fix`: the Reconciled
# compensations); "failover" is a planned `manage.py failover --to` the other region (with two
# regions, after a partition: the fail-back).
REGION_FAULTS = ("partition", "failover")
# Replication counts as caught up below this lag (the drill's 2 s is for an otherwise idle
# machine; here the replicator shares two cores with the load and the kills).
CAUGHT_UP_MS = 5000


@dataclass(frozen=True)
class Plan:
    seed: int = 22
    symbols: tuple[str, ...] = ("CHA", "CHB", "CHC")
    matchers: int = 3
    traders: int = 3
    matcher_kills: int = 10
    api_kills: int = 1
    worker_kills: int = 1
    redis_restarts: int = 1
    latency_windows: int = 1
    latency_ms: int = 120
    latency_window_s: float = 4.0
    warm_up_s: float = 2.0  # load before the first fault
    fault_every_s: float = 1.5  # the gap between two faults (+- a third, seeded)
    tail_s: float = 2.0  # load after the last fault
    cancel_rate: float = 0.2
    duplicate_rate: float = 0.08  # an acknowledged submit sent again with its key
    concurrent_duplicate_rate: float = 0.04  # a submit sent twice at once
    think_s: float = 0.03  # a trader's pause between two actions
    request_deadline_s: float = 120.0  # a client gives up retrying after this long
    stable_s: float = 2.0  # the supervisor's STABLE_S for this run (see run())
    quiet_timeout_s: float = 120.0
    converge_timeout_s: float = 20.0
    regions: tuple[str, ...] = (drill.EAST,)  # the first leads at start
    region_faults: tuple[str, ...] = ()  # REGION_FAULTS, in order, spread over the kills' span
    partition_s: float = 4.0  # the cut lasts this long after the follower has taken over
    region_step_timeout_s: float = 120.0  # a failover, a follow or a catch-up must happen by then
    converge_regions_timeout_s: float = 300.0  # after the load: every region's state hash equal

    @property
    def spread_s(self) -> float:
        """The span the faults are spread over: the matcher kills'."""
        return self.matcher_kills * self.fault_every_s


SHORT = Plan()
BIG = replace(SHORT, seed=2200, symbols=("CHA", "CHB", "CHC", "CHD"), matchers=3, traders=4,
              matcher_kills=60, api_kills=6, worker_kills=5, redis_restarts=3,
              latency_windows=4, fault_every_s=3.0, stable_s=3.0, quiet_timeout_s=240.0)
SIZES = {"short": SHORT, "big": BIG}
# Region episodes per size with --regions: one partition and its fail-back in the short run,
# three of each in the big one (each episode takes ~20-40 s of the run's span).
REGION_EPISODES = {"short": 1, "big": 3}


def with_regions(plan: Plan, regions: tuple[str, ...], episodes: int) -> Plan:
    """The plan on several regions: `episodes` times a partition (automatic failover, heal,
    reconcile) then a planned failover back; 2 matcher processes per region (the follower's
    idle until it leads), and a span long enough for the episodes."""
    assert len(regions) == 2, "the region faults are written for a leader and one follower"
    return replace(plan, regions=regions, region_faults=REGION_FAULTS * episodes,
                   matchers=2, quiet_timeout_s=max(plan.quiet_timeout_s, 240.0),
                   fault_every_s=max(plan.fault_every_s, 40.0 * episodes / plan.matcher_kills))


@dataclass
class Result:
    plan: Plan
    report: checker.Report
    figures: dict[str, Any]
    directory: Path

    @property
    def ok(self) -> bool:
        return not self.report.violations

    def render(self) -> str:
        f = self.figures
        lines = [
            f"chaos run (seed {self.plan.seed}, {len(self.plan.symbols)} symbols, "
            f"{self.plan.matchers} matcher processes, {self.plan.traders} traders): "
            f"{f['duration_s']:.0f} s wall, {f['load_s']:.0f} s under load",
            "  kills (kill -9) by process kind: " + _counts(f["kills"]),
            "  faults by kind:                  " + _counts(f["faults"]),
            "  restarts by the supervisor:      " + _counts(f["restarts"]),
            f"  requests: {f['requests']} attempts, {f['retries']} retries "
            f"({_counts(f['retry_causes'])}), {f['abandoned']} abandoned",
            f"  duplicate sends: {f['duplicates']} (of which concurrent: "
            f"{f['concurrent_duplicates']}); submits acked only by a replay (200): "
            f"{f['acked_by_replay']}",
            "  shard takes (epochs: 1 + takeovers + failovers): " + _counts(self.report.takes),
            f"  orders acked: {self.report.orders_acked}, stored: {self.report.orders_stored}, "
            f"trades: {self.report.trades}, cancels acked: {self.report.cancels_acked}",
            f"  replay: {self.report.commands} commands, {self.report.withdrawn} withdrawn "
            f"early, {self.report.late_cancels} late cancels",
            f"  HTTP p50 outside / inside latency windows: {f['p50_ms_outside']} ms / "
            f"{f['p50_ms_inside']} ms",
        ]
        if len(self.plan.regions) > 1:
            r = self.report
            lines += [
                f"  regions {', '.join(self.plan.regions)}: automatic failovers after "
                f"{', '.join(f'{s:.1f}' for s in f['failover_s']) or '-'} s from the cut",
                f"  forks: {r.forks} off-chain epoch(s) with {r.off_chain_events} events and "
                f"{r.off_chain_trades} trades, all compensated or a violation; Reconciled "
                f"events: {r.reconciled_events}; orders compensated (cancelReason reconciled): "
                f"{r.compensated_orders}; orders a Reconciled event names, acknowledged: "
                f"{r.compensated_acked}; closed on a deposed fork, off the reference book: "
                f"{r.settled_off_chain}; messages left in the former leader's queues: "
                f"{r.left_in_former_leader}",
                "  reconcile --fix runs: " + "; ".join(
                    f"{x['region']}: {_counts(x['findings'] or {})} (fixed {x['fixed']})"
                    for x in f["reconciles"]),
                "  a last reconcile found: " + _counts(f["reconcile_again"] or {}),
            ]
        lines += [
            f"  violations: {len(self.report.violations)}"
            + (f" ({_counts(dict(self.report.by_kind()))})" if self.report.violations else ""),
            f"  history: {self.directory / hist.FILE_NAME}",
        ]
        if self.report.violations:
            lines.append(self.report.summary())
        return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


# ------------------------------------------------------------------------------------ clients
RETRYABLE = (httpx.TransportError,)


class ChaosClient:
    """One trader: POSTs with retries on connection errors, timeouts and 5xx, same key and body.
    With several regions the trader has a home region and, as the SDK does (re-pinning), sends a
    retry to the next region when the last attempt failed there."""

    def __init__(self, name: str, handle: StackHandle, history: hist.History, plan: Plan,
                 rng: random.Random, stop: threading.Event, home: int = 0) -> None:
        self.name = name
        self.client_id = str(uuid.uuid4())
        self.history = history
        self.plan = plan
        self.rng = rng
        self.stop = stop
        token = handle.forge_token(sub=self.client_id, username=name, exp=int(time.time()) + 7200)
        self._token = token
        urls = [handle.stack.http_urls.get(r, handle.url) for r in plan.regions]
        self._urls = urls[home:] + urls[:home]
        self._regions = list(plan.regions[home:] + plan.regions[:home])
        self._local = threading.local()
        self.resting: list[str] = []  # acknowledged GTC orders, candidates for a cancel
        self.counter = 0

    @property
    def http(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:  # one client per thread (concurrent duplicates use a second one)
            client = httpx.Client(timeout=10.0,
                                  headers={"Authorization": f"Bearer {self._token}"})
            self._local.client = client
        return client

    def post(self, op: str, path: str, body: dict[str, Any], key: str | None = None,
             duplicate: str | None = None) -> tuple[int | None, dict[str, Any]]:
        deadline = time.monotonic() + self.plan.request_deadline_s
        backoff = 0.1
        pinned = 0  # the region this request goes to: home first, the next after a failure
        for attempt in range(1, 10_000):
            attempt_id = self.history.new_id()
            self.history.request(id=attempt_id, actor=self.name, client=self.client_id, op=op,
                                 key=key, attempt=attempt, body=body, duplicate=duplicate,
                                 region=self._regions[pinned])
            started = time.monotonic()
            status: int | None = None
            answer: dict[str, Any] = {}
            error = None
            try:
                response = self.http.post(self._urls[pinned] + path, json=body)
                status = response.status_code
                with contextlib.suppress(ValueError):
                    answer = _trim(response.json())
            except RETRYABLE as exc:
                error = type(exc).__name__
            self.history.response(id=attempt_id, status=status, body=answer, error=error,
                                  ms=round((time.monotonic() - started) * 1000, 1))
            if status is not None and status < 500:
                return status, answer
            if time.monotonic() + backoff > deadline:
                self.history.event("abandoned", actor=self.name, op=op, key=key, body=body)
                return status, answer
            time.sleep(backoff * (0.5 + self.rng.random()))
            backoff = min(2.0, backoff * 2)
            pinned = (pinned + 1) % len(self._urls)
        raise AssertionError("unreachable")

    def submit(self) -> None:
        plan, rng = self.plan, self.rng
        self.counter += 1
        key = f"{self.name}-{self.counter}-{rng.getrandbits(32):08x}"
        side = rng.choice(("BUY", "SELL"))
        offset = rng.randint(0, 5)
        if rng.random() < 0.35:  # crossing
            price = MID + offset if side == "BUY" else MID - offset
        else:
            price = MID - 1 - offset if side == "BUY" else MID + 1 + offset
        tif = rng.choices(("GTC", "IOC", "FOK"), (0.6, 0.25, 0.15))[0]
        body = {"symbol": rng.choice(plan.symbols), "side": side, "qty": rng.randint(1, 5),
                "price": f"{price / 100:.2f}", "timeInForce": tif, "idempotencyKey": key}
        if rng.random() < plan.concurrent_duplicate_rate:
            twin = threading.Thread(target=self.post, args=("order", "/order", body, key),
                                    kwargs={"duplicate": "concurrent"}, daemon=True)
            twin.start()
            status, answer = self.post("order", "/order", body, key)
            twin.join(plan.request_deadline_s + 15)
        else:
            status, answer = self.post("order", "/order", body, key)
        if status in (200, 201) and rng.random() < plan.duplicate_rate:
            status, answer = self.post("order", "/order", body, key, duplicate="after_ack")
        if status in (200, 201) and tif == "GTC" and answer.get("orderId"):
            self.resting.append(str(answer["orderId"]))

    def cancel(self) -> None:
        order_id = self.resting.pop(self.rng.randrange(len(self.resting)))
        self.post("cancel", "/cancel", {"orderId": order_id})

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.resting and self.rng.random() < self.plan.cancel_rate:
                    self.cancel()
                else:
                    self.submit()
                time.sleep(self.plan.think_s)
        finally:
            self.http.close()


def _trim(answer: Any) -> dict[str, Any]:
    """What the history keeps of a response body: the order's identity and state, or the error."""
    if not isinstance(answer, dict):
        return {}
    if "error" in answer and isinstance(answer["error"], dict):
        return {"error": {k: answer["error"].get(k) for k in ("code", "details")}}
    return {k: answer[k] for k in ("orderId", "status", "filledQty", "symbol") if k in answer}


# ------------------------------------------------------------------------------------- faults
class Faults:
    """Injects a list of faults one after another, `gap_s` apart (+- a third, seeded), each
    recorded in the history. The driver runs two at once: the matcher kills, and the rest."""

    def __init__(self, handle: StackHandle, history: hist.History, plan: Plan,
                 rng: random.Random, kinds: list[str], gap_s: float) -> None:
        self.handle = handle
        self.stack = handle.stack
        self.history = history
        self.plan = plan
        self.rng = rng
        self.kinds = kinds
        self.gap_s = gap_s
        self.latency_off_at: float | None = None
        self.error: BaseException | None = None

    @classmethod
    def for_plan(cls, handle: StackHandle, history: hist.History, plan: Plan,
                 rng: random.Random) -> list[Faults]:
        others = (["api"] * plan.api_kills + ["worker"] * plan.worker_kills
                  + ["redis"] * plan.redis_restarts + ["latency"] * plan.latency_windows)
        rng.shuffle(others)
        span_s = plan.spread_s
        return [cls(handle, history, plan, random.Random(rng.random()),
                    ["matcher"] * plan.matcher_kills, plan.fault_every_s),
                cls(handle, history, plan, random.Random(rng.random()), others,
                    span_s / (len(others) + 1))]

    def run(self) -> None:
        try:
            time.sleep(self.plan.warm_up_s)
            for kind in self.kinds:
                self._wait(self.gap_s * (2 / 3 + self.rng.random() * 2 / 3))
                if kind == "latency":
                    self.latency_on()
                else:
                    self.kill(kind)
            self._wait(0)
            if self.latency_off_at is not None:
                time.sleep(max(0.0, self.latency_off_at - time.monotonic()))
                self.latency_off()
        except BaseException as exc:  # the driver reports it after the run
            self.error = exc
            self.history.event("fault driver failed", error=repr(exc))
            with contextlib.suppress(Exception):
                self.latency_off()

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if self.latency_off_at is not None and now >= self.latency_off_at:
                self.latency_off()
            if now >= end:
                return
            time.sleep(min(0.1, end - now))

    # kill -9 -------------------------------------------------------------------------------
    def _uptime(self, name: str) -> float:
        sup = self.stack.supervisor
        state = sup.restarts.get(name) if sup is not None else None
        return time.monotonic() - state.started_at if state is not None else 1e9

    def _alive(self, name: str) -> bool:
        child = self.stack.children.get(name)
        return child is not None and child.process.poll() is None

    def _victim(self, kind: str) -> str | None:
        """The process to kill: a live one that has been up for the supervisor's stable time
        (so its restart backoff stays at 1 s); for a matcher, preferably one holding shards (in
        any region); for the API server and the worker, the one of any region."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if kind == "matcher":
                live = [n for n in self.stack.children if n.startswith("matcher-")
                        and self._alive(n) and self._uptime(n) >= self.plan.stable_s]
                holding = {r["process"] for r in shard_holders(self.stack)}
                preferred = [n for n in live if n in holding] or live
                if preferred:
                    return self.rng.choice(sorted(preferred))
            elif kind == "redis":
                if self._alive("redis") and self._uptime("redis") >= self.plan.stable_s:
                    return "redis"
            else:
                ready = [self.stack.child_name(KILL_KINDS[kind], r) for r in self.plan.regions]
                ready = [n for n in ready if self._alive(n) and self._uptime(n) >= self.plan.stable_s
                         and (kind != "api" or _healthy(self.stack.http_urls[_region_of(n, self.plan)]))]
                if ready:
                    return self.rng.choice(ready)
            self._wait(0.2)
        return None

    def kill(self, kind: str) -> None:
        name = self._victim(kind)
        if name is None:
            self.history.event("no victim", proc=kind)
            return
        child = self.stack.children[name]
        held = sorted({r["symbol"] for r in shard_holders(self.stack) if r["process"] == name}) \
            if kind == "matcher" else []
        self.stack.kill(name)  # SIGKILL to its process group; the supervisor restarts it
        self.history.fault("kill", proc=kind, target=name, pid=child.process.pid, held=held)
        if kind == "redis":
            self._await_redis()

    def _await_redis(self) -> None:
        url = self.handle.env["REDIS_URL"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._alive("redis") and redis_reachable(url, 0.5):
                self.history.event("redis back", url=url)
                return
            self._wait(0.2)
        self.history.event("redis not back", url=url)

    # injectLatencyMs -----------------------------------------------------------------------
    def latency_on(self) -> None:
        if self.latency_off_at is not None:
            return
        set_latency(self.handle, self.plan.latency_ms)
        self.history.fault("latency", ms=self.plan.latency_ms, on=True)
        self.latency_off_at = time.monotonic() + self.plan.latency_window_s

    def latency_off(self) -> None:
        if self.latency_off_at is None:
            return
        self.latency_off_at = None
        set_latency(self.handle, None)
        self.history.fault("latency", ms=0, on=False)


def _region_of(name: str, plan: Plan) -> str:
    """The region of a child: "http@us-west-2" is us-west-2's, "http" the first region's."""
    return name.partition("@")[2] or plan.regions[0]


def shard_holders(stack: Any) -> list[dict[str, Any]]:
    """LocalStack.shard_holders over every region's replica: who holds which shard, as each
    region sees it (a partition keeps the two views apart)."""
    by_pid = {str(child.process.pid): name for name, child in stack.children.items()}
    rows = []
    for region in stack.options.regions:
        ddb = stack.boto("dynamodb", region)
        for symbol in parse_symbols(stack.options.symbols):
            item = ddb.get_item(TableName=stack.names.trades_table, ConsistentRead=True,
                                Key=raw_key(ShardItem.key(symbol))).get("Item")
            shard = ShardItem.from_raw_data(item or raw_key(ShardItem.key(symbol)))
            holder = shard.holder or ""
            rows.append({"symbol": symbol, "region": region, "holder": holder or None,
                         "epoch": shard.epoch,
                         "process": by_pid.get(holder.rpartition(":")[2], "")})
    return rows


def set_latency(handle: StackHandle, ms: int | None) -> None:
    """The injectLatencyMs override (tulip.flags; the ops console's chaos panel writes the same
    row), in the stack's own database, through its own manage.py; None reverts to the
    environment's value. Every process picks it up within a second."""
    code = ("from tulip.models import FeatureFlagOverride as F; "
            f"F.objects.update_or_create(pk=1, defaults={{'inject_latency_ms': {ms!r}, "
            "'updated_by': 'chaos run'})")
    for env in handle.stack.region_envs.values() or [handle.env]:  # each region's own database
        for attempt in range(1, 6):  # SQLite may answer "database is locked" under load: retry
            done = subprocess.run([PYTHON, "manage.py", "shell", "-c", code], cwd=REPO_ROOT,
                                  env=env, capture_output=True, text=True, timeout=180,
                                  check=False)
            if done.returncode == 0:
                break
            time.sleep(attempt)
        else:
            raise RuntimeError(f"setting injectLatencyMs={ms} failed: {done.stderr[-1500:]}")


class RegionFaults:
    """The region faults of the plan (REGION_FAULTS), one after another, spread over the span of
    the kills, with the region drill's own steps (tests/support/drill.py: `manage.py partition`,
    `heal`, `failover`, `reconcile`, GET /region), each recorded in the history."""

    def __init__(self, handle: StackHandle, history: hist.History, plan: Plan,
                 rng: random.Random) -> None:
        self.handle = handle
        self.history = history
        self.plan = plan
        self.rng = rng
        self.drill = drill.DrillRun(handle, plan.symbols[0], plan.regions)
        self.leader = plan.regions[0]
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            gap = self.plan.spread_s / (len(self.plan.region_faults) + 1)
            time.sleep(self.plan.warm_up_s)
            for kind in self.plan.region_faults:
                time.sleep(gap * (1 / 3 + self.rng.random() / 3))
                if kind == "partition":
                    self.partition()
                else:
                    self.failover()
        except BaseException as exc:  # the driver reports it after the run
            self.error = exc
            self.history.event("region fault driver failed", error=repr(exc))
            with contextlib.suppress(Exception):
                self.manage(self.plan.regions[0], "heal")

    def manage(self, region: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A management command in `region`'s environment (as DrillRun.manage, but the caller
        judges the exit code: reconcile exits 1 when it found something)."""
        return subprocess.run([PYTHON, "manage.py", *args], cwd=REPO_ROOT,
                              env=self.handle.stack.region_envs[region], capture_output=True,
                              text=True, timeout=300, check=False)

    def _wait(self, condition: Any, what: str) -> float:
        return drill.wait_for(condition, self.plan.region_step_timeout_s, what)

    def leadership(self) -> tuple[str, int]:
        """(leader region, term) by the newest term any region reports. Under this load the
        monitors also fail over by themselves (docs/reliability.md): the leader is read, not
        remembered from the driver's last step."""
        best = (0, self.leader)
        for region in self.plan.regions:
            view = self.drill.region(region)
            term, named = int(view.get("epoch") or 0), view.get("leaderRegion")
            if named in self.plan.regions and term > best[0]:
                best = (term, named)
        return best[1], best[0]

    def partition(self) -> None:
        """Cut the leader off, the automatic failover, trading on the new leader, heal, the
        regions agree on one leader, replication catches up, reconcile --fix in the leader's
        region. Which region leads after the heal is the monitors' choice: a leader that had
        just moved by itself may be the one isolated, and the other side then takes over."""
        old, term = self.leadership()
        others = [r for r in self.plan.regions if r != old]
        self.history.event("partition requested", leader=old, term=term)  # manage.py is slow
        done = self.manage(old, "partition", old, *others)
        assert done.returncode == 0, done.stderr[-2000:]
        self.history.fault("partition", leader=old, cut_from=others)
        def failed_over() -> bool:
            views = [self.drill.region(r) for r in self.plan.regions]
            return any(v.get("role") == "leader" and int(v.get("epoch") or 0) > term
                       for v in views)
        took = self._wait(failed_over, "a region fails over")
        new, _ = self.leadership()  # the newest term's leader (the cut-off one may still lead)
        self.history.fault("failover", how="automatic", to=new, after_s=round(took, 2))
        time.sleep(self.plan.partition_s)
        self.history.event("heal requested")
        done = self.manage(old, "heal")
        assert done.returncode == 0, done.stderr[-2000:]
        self.history.fault("heal", regions=list(self.plan.regions))
        self.leader = self._agreed()
        self._caught_up()
        self.reconcile(self.leader)

    def failover(self) -> None:
        """A planned failover to the other region (the fail-back after a partition)."""
        old, _ = self.leadership()
        new = next(r for r in self.plan.regions if r != old)
        for attempt in range(1, 6):  # refused while the target's API server restarts: again
            done = self.manage(old, "failover", "--to", new)
            if done.returncode == 0:
                break
            self.history.event("failover refused", attempt=attempt, stderr=done.stderr[-500:])
            if self.drill.region(old).get("leaderRegion") == new:
                break  # the record took effect on arrival
            time.sleep(2)
        else:
            raise AssertionError(f"manage.py failover --to {new}: {done.stderr[-2000:]}")
        self.history.fault("failover", how="planned", to=new)
        self.leader = self._agreed()
        self._caught_up()

    def _agreed(self) -> str:
        """Wait until every region names the same leader, and that region leads; return it."""
        def agreed() -> bool:
            views = [self.drill.region(r) for r in self.plan.regions]
            named = {v.get("leaderRegion") for v in views}
            return (len(named) == 1 and
                    any(v.get("role") == "leader" and v.get("region") in named for v in views))
        self._wait(agreed, "the regions agree on one leader")
        leader, term = self.leadership()
        self.history.event("regions follow", leader=leader, term=term)
        return leader

    def _caught_up(self) -> None:
        """Replication catches up, which under the run's load may take long: not reaching it in
        time is noted, not fatal (the run's end judges convergence by the regions' state
        hashes)."""
        try:
            took = self._wait(lambda: all(
                self.drill.region(r).get("replicationLagMs", 10**6) < CAUGHT_UP_MS
                for r in self.plan.regions), "replication catches up")
            self.history.event("replication caught up", after_s=round(took, 1))
        except AssertionError:
            self.history.event("replication behind", lag_ms={
                r: self.drill.region(r).get("replicationLagMs") for r in self.plan.regions})

    def reconcile(self, region: str) -> None:
        for attempt in range(1, 6):  # SQLite may answer "database is locked" under load: again
            done = self.manage(region, "reconcile", "--fix", "--json")
            if "database is locked" not in done.stderr[-500:]:
                break
            self.history.event("reconcile refused", attempt=attempt, stderr=done.stderr[-500:])
            time.sleep(attempt)
        assert done.returncode in (0, 1), done.stderr[-2000:]
        outcome = _reconciled(done.stdout)
        if "unreadable" in outcome:  # exit 1 without a report: the command failed; say why
            outcome["stderr"] = done.stderr[-2000:]
        elif outcome.get("not_fixed"):  # which conditions refused the appends, and how often
            outcome["conflicts"] = dict(Counter(
                str(json.loads(line).get("reasons")) for line in done.stderr.splitlines()
                if '"reconciled append cancelled' in line and line.startswith("{")))
        self.history.event("reconcile", region=region, **outcome)


def _reconciled(stdout: str) -> dict[str, Any]:
    """The findings of a `reconcile --fix --json` run by kind, and what it compensated."""
    try:
        run = json.loads(stdout[stdout.index("{"):])
    except ValueError:
        return {"unreadable": stdout[-1000:]}
    actions = run.get("actions") or []
    return {"findings": dict(Counter(f["kind"] for f in run.get("findings", []))),
            "fixed": sum(1 for a in actions if a.get("ok")),
            "not_fixed": [f"{a.get('key')}: {a.get('action')}" for a in actions
                          if not a.get("ok")],
            "cancelled": sorted(c for a in actions for c in a.get("cancelled", []))}


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


# ------------------------------------------------------------------------------------ the run
@contextlib.contextmanager
def _own_redis() -> Iterator[None]:
    """Start the stack with no REDIS_URL in sight, so it embeds its own Redis (the one the run
    restarts); the machine's Redis is never touched."""
    saved = os.environ.pop("REDIS_URL", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["REDIS_URL"] = saved


@contextlib.contextmanager
def _supervisor_pace(stable_s: float) -> Iterator[None]:
    """devstack/supervisor.py doubles a child's restart backoff while it keeps dying within
    STABLE_S (30 s) of its start; kills here come every few seconds, so for this run a child
    that stayed up `stable_s` counts as stable (restart after 1 s again)."""
    saved = supervision.STABLE_S
    supervision.STABLE_S = stable_s
    try:
        yield
    finally:
        supervision.STABLE_S = saved


class RegionView:
    """One region of the stack as the checker reads it (tests/chaos/checker.py's Readable): that
    region's environment and AWS clients."""

    def __init__(self, handle: StackHandle, region: str) -> None:
        self.handle = handle
        self.region = region

    @property
    def env(self) -> dict[str, str]:
        return self.handle.stack.region_envs.get(self.region, self.handle.env)

    def boto(self, service: str) -> Any:
        return self.handle.stack.boto(service, self.region)  # type: ignore[arg-type]


def leader_region(handle: StackHandle, plan: Plan) -> str:
    """The region every region's GET /region names as the leader (the first one if they do not
    agree yet: the caller waits for agreement first)."""
    if len(plan.regions) == 1:
        return plan.regions[0]
    run = drill.DrillRun(handle, plan.symbols[0], plan.regions)
    named = {run.region(r).get("leaderRegion") for r in plan.regions}
    return str(named.pop()) if len(named) == 1 and None not in named else plan.regions[0]


def _wait_quiet(handle: StackHandle, plan: Plan, history: hist.History, timeout_s: float) -> str:
    """Every child running again, every region's HTTP answering and agreeing on one leader, no
    order left ACCEPTED in the leader's replica, the leader's events queues empty. Returns the
    leader region. (A region that does not lead keeps what its queue held when it stopped
    leading: its matchers consume it, as already applied, once it leads again.)"""
    deadline = time.monotonic() + timeout_s
    stack = handle.stack
    run = drill.DrillRun(handle, plan.symbols[0], plan.regions)
    while time.monotonic() < deadline:
        dead = [n for n, c in stack.children.items() if c.process.poll() is not None]
        named = {run.region(r).get("leaderRegion") for r in plan.regions} \
            if len(plan.regions) > 1 else {plan.regions[0]}
        if not dead and all(_healthy(u) for u in stack.http_urls.values()) and len(named) == 1 \
                and None not in named:
            break
        time.sleep(0.3)
    leader = leader_region(handle, plan)
    view = RegionView(handle, leader)
    sqs = view.boto("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    pending: list[str] = []
    while time.monotonic() < deadline:
        pending = [i for s in handle.symbols for i in _accepted(view, s)]
        queued = sum(int(sqs.get_queue_attributes(
            QueueUrl=view.env["EVENTS_FIFO_URL"].replace("{symbol}", s),
            AttributeNames=names)["Attributes"].get(n, "0")) for s in handle.symbols for n in names)
        if not pending and not queued:
            history.event("quiet", leader=leader, pending=0, queued=0)
            return leader
        time.sleep(0.5)
    history.event("not quiet", leader=leader, pending=len(pending))
    return leader


def _accepted(view: RegionView | StackHandle, symbol: str) -> list[str]:
    """The symbol's orders still ACCEPTED (the openOrders index's "A#" range: the sweeper's)."""
    page = view.boto("dynamodb").query(
        TableName=view.env["ORDERS_TABLE"], IndexName="openOrders",
        KeyConditionExpression="openSymbol = :s AND begins_with(openSort, :a)",
        ExpressionAttributeValues={":s": {"S": symbol}, ":a": {"S": "A#"}})
    return [item["orderId"]["S"] for item in page["Items"]]


def _settle_regions(handle: StackHandle, plan: Plan, history: hist.History,
                    leader: str) -> dict[str, str]:
    """After the load, with several regions: every region on one state hash (replication has
    brought everything across), then reconcile --fix in the leader's region (the runbook's step
    after any heal; a planned failover must leave nothing to compensate), quiet again (its
    compensating cancels go through the queue), one state hash again (or the last ones seen),
    and a last reconcile that must find nothing. Reconciling before replication had caught up
    compensated a deposed epoch while some of the states it left were still on their way (region
    chaos seed 2208)."""
    faults = RegionFaults(handle, history, plan, random.Random(0))
    run = drill.DrillRun(handle, plan.symbols[0], plan.regions)
    history.event("state hashes before reconcile", hashes=_converged(run, plan))
    faults.reconcile(leader)
    _wait_quiet(handle, plan, history, plan.quiet_timeout_s)
    hashes = _converged(run, plan)
    history.event("state hashes", hashes=hashes)
    again = faults.manage(leader, "reconcile", "--json")
    history.event("reconcile again", region=leader, **_reconciled(again.stdout))
    return hashes


def _converged(run: drill.DrillRun, plan: Plan) -> dict[str, str]:
    """Every region's state hash once they agree, or the last ones seen at the deadline."""
    hashes: dict[str, str] = {}
    deadline = time.monotonic() + plan.converge_regions_timeout_s
    while time.monotonic() < deadline:
        hashes = {r: drill.state_hash(run, r) for r in plan.regions}
        if len(set(hashes.values())) == 1:
            break
        time.sleep(1)
    return hashes


def _figures(records: list[dict[str, Any]]) -> dict[str, Any]:
    faults = hist.faults(records)
    kills = Counter(f["proc"] for f in faults if f["fault"] == "kill")
    by_kind = Counter({"kill -9 " + k: v for k, v in kills.items()})
    by_kind["latency window"] = sum(1 for f in faults if f["fault"] == "latency" and f["on"])
    attempts = list(hist.attempts(records))
    retries = [a for a in attempts if a.request["attempt"] > 1]
    causes: Counter[str] = Counter()
    for a in attempts:
        if a.response is None:
            continue
        if a.response.get("error"):
            causes[str(a.response["error"])] += 1
        elif a.status is not None and a.status >= 500:
            causes[f"HTTP {a.status}"] += 1
    duplicates = [a for a in attempts if a.request.get("duplicate") and a.request["attempt"] == 1]
    by_kind["duplicate send"] = len(duplicates)
    windows = _latency_windows(records)
    inside = sorted(a.response["ms"] for a in attempts if a.response and a.status
                    and any(s <= a.request["t"] < e for s, e in windows))
    outside = sorted(a.response["ms"] for a in attempts if a.response and a.status
                     and not any(s <= a.request["t"] < e for s, e in windows))
    restarts: Counter[str] = Counter()
    for record in records:
        line = record.get("line", "") if record.get("what") == "supervisor" else ""
        if " restarted (pid " in line:
            name = line.split(" ", 2)[1]
            restarts["matcher" if name.startswith("matcher-") else name.partition("@")[0]] += 1
    submits = hist.submits(records).values()
    for what in ("partition", "heal"):
        if any(f["fault"] == what for f in faults):
            by_kind[what] = sum(1 for f in faults if f["fault"] == what)
    for how in ("automatic", "planned"):
        if any(f["fault"] == "failover" and f["how"] == how for f in faults):
            by_kind[f"failover ({how})"] = sum(1 for f in faults
                                               if f["fault"] == "failover" and f["how"] == how)
    reconciles = [r for r in records if r.get("what") == "reconcile"]
    again = next((r for r in records if r.get("what") == "reconcile again"), None)
    load = [r["t"] for r in records if r["kind"] == "event" and r["what"] in ("load", "load over")]
    return {
        "kills": dict(kills), "faults": dict(by_kind), "restarts": dict(restarts),
        "requests": len(attempts), "retries": len(retries), "retry_causes": dict(causes),
        "abandoned": sum(1 for r in records if r["kind"] == "event" and r["what"] == "abandoned"),
        "duplicates": len(duplicates),
        "concurrent_duplicates": sum(1 for a in duplicates if a.request["duplicate"] == "concurrent"),
        "p50_ms_inside": inside[len(inside) // 2] if inside else None,
        "p50_ms_outside": outside[len(outside) // 2] if outside else None,
        "load_s": load[-1] - load[0] if len(load) == 2 else 0.0,
        # Submits acknowledged only by a replay (200): the 201 was lost with a killed server, or
        # a concurrent twin won; either way the retry with the same key found the order.
        "acked_by_replay": sum(1 for s in submits if s.acks and all(a.status == 200 for a in s.acks)),
        # With several regions: the automatic failovers' time from the cut, what each
        # `reconcile --fix` found and compensated, and what a last `reconcile` still found.
        "failover_s": [f["after_s"] for f in faults if f["fault"] == "failover"
                       and f["how"] == "automatic"],
        "reconciles": [{k: r.get(k) for k in ("region", "findings", "fixed", "not_fixed",
                                                "cancelled")} for r in reconciles],
        "reconcile_again": None if again is None else again.get("findings"),
    }


def _latency_windows(records: list[dict[str, Any]]) -> list[tuple[float, float]]:
    windows, start = [], None
    for f in hist.faults(records):
        if f["fault"] == "latency":
            if f["on"]:
                start = f["t"]
            elif start is not None:
                windows.append((start, f["t"]))
                start = None
    return windows


def run(plan: Plan, directory: Path) -> Result:
    started = time.monotonic()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    directory.mkdir(parents=True, exist_ok=True)
    history = hist.History(directory / hist.FILE_NAME)
    history.event("plan", **{k: v for k, v in plan.__dict__.items()})
    with _own_redis():
        handle = start_stack(directory / "stack", symbols=",".join(plan.symbols),
                             matchers=plan.matchers, events_visibility_timeout_s=2,
                             regions=plan.regions, supervise=False,
                             extra_env={**FAST, **(REGION_TIMINGS if len(plan.regions) > 1
                                                   else {})})
    try:
        stack = handle.stack
        redis_url = handle.env["REDIS_URL"]
        assert stack.redis_embedded and "redis" in stack.children, (
            f"the stack did not start its own Redis ({redis_url}): refusing to restart it")
        history.event("stack", pids=stack.pids(), redis=redis_url, url=handle.url)
        with _supervisor_pace(plan.stable_s):
            stack.supervise()
            stack.wait_for_holders(30)
            stop = threading.Event()
            rng = random.Random(plan.seed)
            traders = [ChaosClient(f"t{i}", handle, history, plan, random.Random(rng.random()),
                                   stop, home=i % len(plan.regions))
                       for i in range(plan.traders)]
            threads = [threading.Thread(target=t.run, name=t.name, daemon=True) for t in traders]
            faults: list[Faults | RegionFaults] = list(
                Faults.for_plan(handle, history, plan, random.Random(rng.random())))
            if plan.region_faults:
                faults.append(RegionFaults(handle, history, plan, random.Random(rng.random())))
            injectors = [threading.Thread(target=f.run, name=f"faults-{i}", daemon=True)
                         for i, f in enumerate(faults)]
            history.event("load")
            for thread in threads + injectors:
                thread.start()
            for thread in injectors:
                thread.join()
            time.sleep(plan.tail_s)
            stop.set()
            for thread in threads:
                thread.join(plan.request_deadline_s + 30)
            history.event("load over")
            for fault in faults:
                if fault.error is not None:
                    raise fault.error
            leader = _wait_quiet(handle, plan, history, plan.quiet_timeout_s)
            hashes = _settle_regions(handle, plan, history, leader) \
                if len(plan.regions) > 1 else None
            history.event("shards", leader=leader, holders=shard_holders(stack))
            token = handle.forge_token(sub=str(uuid.uuid4()))
            books = {region: _book_reader(url, token) for region, url in stack.http_urls.items()}
            view = RegionView(handle, leader)
            checker.dump(view, directory / checker.DUMP_FILE)
            records = hist.load(history.path)
            report = checker.check(records, view, list(plan.symbols), books[leader],
                                   plan.converge_timeout_s,
                                   regions={r: RegionView(handle, r) for r in plan.regions},
                                   books=books, state_hashes=hashes)
            history.event("checked", violations=[str(v) for v in report.violations])
    finally:
        _teardown(handle)
        log = directory / "stack" / "logs" / "supervisor.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            history.event("supervisor", line=line)
        history.close()
    records = hist.load(history.path)
    figures = _figures(records)
    figures["duration_s"] = time.monotonic() - started
    return Result(plan, report, figures, directory)


def _book_reader(url: str, token: str) -> Any:
    """GET /book's JSON from one region's API server."""
    reader = httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"})

    def fetch_book(symbol: str) -> dict[str, Any]:
        answer: dict[str, Any] = reader.get("/book", params={
            "symbol": symbol, "depth": checker.BOOK_DEPTH}).json()
        return answer

    return fetch_book


def _teardown(handle: StackHandle) -> None:
    """Stop restarting, then SIGKILL every child (the state is no longer needed: this saves the
    stack's 10 s SIGTERM grace), then the stack's own stop for the rest of its cleanup."""
    stack = handle.stack
    if stack.supervisor is not None:
        stack.supervisor.stop()
    for name in list(stack.children):
        stack.stop_child(name, signal.SIGKILL)
    stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run")
    parser.add_argument("--size", choices=sorted(SIZES), default="big")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--regions", default="",
                        help="two comma-separated regions (the first leads): adds partitions, "
                             "automatic and planned failovers, heals and reconciliations")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the history and the stack's logs go (default: a new temp dir)")
    args = parser.parse_args(argv)
    plan = SIZES[args.size]
    if args.seed is not None:
        plan = replace(plan, seed=args.seed)
    regions = tuple(r.strip() for r in args.regions.split(",") if r.strip())
    if len(regions) > 1:
        plan = with_regions(plan, regions, REGION_EPISODES[args.size])
    elif regions:
        plan = replace(plan, regions=regions)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="tulip-chaos-"))
    print(f"[chaos] {args.size} run, seed {plan.seed}, regions {','.join(plan.regions)}, in "
          f"{directory}", flush=True)
    result = run(plan, directory)
    print(result.render(), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
