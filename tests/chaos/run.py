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
from tests.support.stack import StackHandle, start_stack
from tulip.schema import TERM_EPOCHS

MID = 10_000  # ticks: 100.00
# Short leases and visibility timeouts so takeovers and redeliveries fit a run: a killed holder's
# shards are free after 2 s, its in-flight batch back in the queue after 2 s; the sweeper re-sends
# an order whose send was lost (an API killed between its commit and its send) after 2 s.
FAST = {"MATCHER_LEASE_TTL_S": "2", "SWEEPER_INTERVAL_S": "2", "SWEEPER_MIN_AGE_S": "2"}
KILL_KINDS = {"matcher": "matcher", "api": "http", "worker": "worker", "redis": "redis"}


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


SHORT = Plan()
BIG = replace(SHORT, seed=2200, symbols=("CHA", "CHB", "CHC", "CHD"), matchers=3, traders=4,
              matcher_kills=60, api_kills=6, worker_kills=5, redis_restarts=3,
              latency_windows=4, fault_every_s=3.0, stable_s=3.0, quiet_timeout_s=240.0)
SIZES = {"short": SHORT, "big": BIG}


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
            "  shard lease takes (1 + takeovers): " + _counts(f["shard_takes"]),
            f"  orders acked: {self.report.orders_acked}, stored: {self.report.orders_stored}, "
            f"trades: {self.report.trades}, cancels acked: {self.report.cancels_acked}",
            f"  replay: {self.report.commands} commands, {self.report.withdrawn} withdrawn "
            f"early, {self.report.late_cancels} late cancels",
            f"  HTTP p50 outside / inside latency windows: {f['p50_ms_outside']} ms / "
            f"{f['p50_ms_inside']} ms",
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
    """One trader: POSTs with retries on connection errors, timeouts and 5xx, same key and body."""

    def __init__(self, name: str, handle: StackHandle, history: hist.History, plan: Plan,
                 rng: random.Random, stop: threading.Event) -> None:
        self.name = name
        self.client_id = str(uuid.uuid4())
        self.history = history
        self.plan = plan
        self.rng = rng
        self.stop = stop
        token = handle.forge_token(sub=self.client_id, username=name, exp=int(time.time()) + 7200)
        self._token = token
        self._url = handle.url
        self._local = threading.local()
        self.resting: list[str] = []  # acknowledged GTC orders, candidates for a cancel
        self.counter = 0

    @property
    def http(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:  # one client per thread (concurrent duplicates use a second one)
            client = httpx.Client(base_url=self._url, timeout=10.0,
                                  headers={"Authorization": f"Bearer {self._token}"})
            self._local.client = client
        return client

    def post(self, op: str, path: str, body: dict[str, Any], key: str | None = None,
             duplicate: str | None = None) -> tuple[int | None, dict[str, Any]]:
        deadline = time.monotonic() + self.plan.request_deadline_s
        backoff = 0.1
        for attempt in range(1, 10_000):
            attempt_id = self.history.new_id()
            self.history.request(id=attempt_id, actor=self.name, client=self.client_id, op=op,
                                 key=key, attempt=attempt, body=body, duplicate=duplicate)
            started = time.monotonic()
            status: int | None = None
            answer: dict[str, Any] = {}
            error = None
            try:
                response = self.http.post(path, json=body)
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
        span_s = plan.matcher_kills * plan.fault_every_s
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
        (so its restart backoff stays at 1 s); for a matcher, preferably one holding shards."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if kind == "matcher":
                live = [n for n in self.stack.matcher_names
                        if self._alive(n) and self._uptime(n) >= self.plan.stable_s]
                holding = {r["process"] for r in self.stack.shard_holders()}
                preferred = [n for n in live if n in holding] or live
                if preferred:
                    return self.rng.choice(sorted(preferred))
            else:
                name = KILL_KINDS[kind]
                ready = self._alive(name) and self._uptime(name) >= self.plan.stable_s
                if kind == "api":
                    ready = ready and _healthy(self.handle.url)
                if ready:
                    return name
            self._wait(0.2)
        return None

    def kill(self, kind: str) -> None:
        name = self._victim(kind)
        if name is None:
            self.history.event("no victim", proc=kind)
            return
        child = self.stack.children[name]
        held = [r["symbol"] for r in self.stack.shard_holders() if r["process"] == name] \
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


def set_latency(handle: StackHandle, ms: int | None) -> None:
    """The injectLatencyMs override (tulip.flags; the ops console's chaos panel writes the same
    row), in the stack's own database, through its own manage.py; None reverts to the
    environment's value. Every process picks it up within a second."""
    code = ("from tulip.models import FeatureFlagOverride as F; "
            f"F.objects.update_or_create(pk=1, defaults={{'inject_latency_ms': {ms!r}, "
            "'updated_by': 'chaos run'})")
    for attempt in range(1, 6):  # SQLite may answer "database is locked" under load: retry
        done = subprocess.run([PYTHON, "manage.py", "shell", "-c", code], cwd=REPO_ROOT,
                              env=handle.env, capture_output=True, text=True, timeout=180,
                              check=False)
        if done.returncode == 0:
            return
        time.sleep(attempt)
    raise RuntimeError(f"setting injectLatencyMs={ms} failed: {done.stderr[-1500:]}")


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


def _wait_quiet(handle: StackHandle, history: hist.History, timeout_s: float) -> None:
    """Every child running again, HTTP answering, no order left ACCEPTED, every queue empty."""
    deadline = time.monotonic() + timeout_s
    stack = handle.stack
    while time.monotonic() < deadline:
        dead = [n for n, c in stack.children.items() if c.process.poll() is not None]
        if not dead and _healthy(handle.url):
            break
        time.sleep(0.3)
    sqs = handle.boto("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    pending: list[str] = []
    while time.monotonic() < deadline:
        pending = [i for s in handle.symbols for i in _accepted(handle, s)]
        queued = sum(int(sqs.get_queue_attributes(QueueUrl=handle.queue_url(s),
                                                  AttributeNames=names)["Attributes"].get(n, "0"))
                     for s in handle.symbols for n in names)
        if not pending and not queued:
            history.event("quiet", pending=0, queued=0)
            return
        time.sleep(0.5)
    history.event("not quiet", pending=len(pending))


def _accepted(handle: StackHandle, symbol: str) -> list[str]:
    """The symbol's orders still ACCEPTED (the openOrders index's "A#" range: the sweeper's)."""
    page = handle.boto("dynamodb").query(
        TableName=handle.env["ORDERS_TABLE"], IndexName="openOrders",
        KeyConditionExpression="openSymbol = :s AND begins_with(openSort, :a)",
        ExpressionAttributeValues={":s": {"S": symbol}, ":a": {"S": "A#"}})
    return [item["orderId"]["S"] for item in page["Items"]]


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
            restarts["matcher" if name.startswith("matcher-") else name] += 1
    submits = hist.submits(records).values()
    shards = next((r["holders"] for r in records if r.get("what") == "shards"), [])
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
        # Lease takes per shard in the leadership term (an epoch's low digits): takeovers + 1.
        "shard_takes": {r["symbol"]: r["epoch"] % TERM_EPOCHS for r in shards},
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
                             extra_env=FAST, supervise=False)
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
                                   stop) for i in range(plan.traders)]
            threads = [threading.Thread(target=t.run, name=t.name, daemon=True) for t in traders]
            faults = Faults.for_plan(handle, history, plan, random.Random(rng.random()))
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
            _wait_quiet(handle, history, plan.quiet_timeout_s)
            history.event("shards", holders=stack.shard_holders())
            reader = httpx.Client(base_url=handle.url, timeout=10, headers={
                "Authorization": f"Bearer {handle.forge_token(sub=str(uuid.uuid4()))}"})

            def fetch_book(symbol: str) -> dict[str, Any]:
                answer: dict[str, Any] = reader.get("/book", params={
                    "symbol": symbol, "depth": checker.BOOK_DEPTH}).json()
                return answer

            checker.dump(handle, directory / checker.DUMP_FILE)
            records = hist.load(history.path)
            report = checker.check(records, handle, list(plan.symbols), fetch_book,
                                   plan.converge_timeout_s)
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
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the history and the stack's logs go (default: a new temp dir)")
    args = parser.parse_args(argv)
    plan = SIZES[args.size]
    if args.seed is not None:
        plan = replace(plan, seed=args.seed)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="tulip-chaos-"))
    print(f"[chaos] {args.size} run, seed {plan.seed}, in {directory}", flush=True)
    result = run(plan, directory)
    print(result.render(), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
