"""Scale-out model (`.venv/bin/python -m bench.model`): what this 2-core box cannot show.

A seeded discrete-event simulation, pure Python and stdlib only (no stack, no AWS), of the matcher
as built (docs/architecture.md; matching/loop.py, matching/leases.py):

- SQS FIFO: one queue per symbol, one message group per queue, so at most one batch (<= 10
  messages) of a symbol is in flight; a batch not deleted becomes visible again after the
  visibility timeout; ReceiveMessage long-polls (MATCHER_RECEIVE_WAIT_S, 1 s) while the group is
  blocked.
- Matcher processes: each has a GIL (one CPU server, round-robin in 5 ms slices as CPython's switch
  interval); each held shard has a receive thread (ReceiveMessage -> BatchGetItem + engine ->
  TransactWriteItems -> DeleteMessageBatch -> hand-off) and a publisher thread. CPU segments hold
  the GIL; an SQS/DynamoDB/Redis call releases it for its latency. Processes split the shards by
  the fair share ceil(shards / processes) (matching/leases.py); processes beyond the shard count
  sit idle.
- Two parameter sets. "local": the local stack on this box, where a call's "latency" is CPU of the
  moto server process (one more GIL) and every process shares 2 cores; calibrated against the
  pipeline benchmark's measured cycle breakdown (docs/benchmarks.md; `--calibrate` prints measured
  against modelled, `--fit` redoes the fit). "aws": the matcher's own CPU as calibrated locally,
  with the service latencies taken from AWS's published figures or, where AWS publishes none,
  stated assumptions (all options).
- Offered load is saturation (every queue always has messages), so msgs/s is the ceiling.
- Takeover after kill -9 of one of two processes (4 symbols): lease expiry, the survivor's keeper
  tick (every min(TTL/5, 1 s) after the previous one ended; the take follows its renewals,
  heartbeat and reads), the conditional take, the rebuild
  (GetItem + Query of the open orders), and the wait for the dead holder's in-flight batch to
  become visible again (visibility timeout = TTL), up to the new holder's first commit.

Deterministic: a simulated clock, no wall time; every random draw comes from the seed (each thread
has its own random.Random derived from it, so that two process layouts see the same latencies and
differ only by contention); every loop ends at the simulated horizon. The same seed prints the
same tables.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

SYMBOL_COUNTS = (1, 2, 4, 8, 16, 32, 64)
AWS_PROCESSES = (1, 2, 4, 8, 16)
LOCAL_PROCESSES = (1, 2, 3, 4)
BATCH = 10  # SQS's per-receive maximum; FIFO's one in-flight batch per group (matching/queue.py)
LONG_POLL_S = 1.0  # the workers' long poll, MATCHER_RECEIVE_WAIT_S (default 1 s)
SWITCH_MS = 5.0  # CPython's default sys.getswitchinterval(); also the OS slice between processes
Z99 = 2.3263478740408408  # standard normal quantile of 0.99


# --------------------------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True, slots=True)
class Latency:
    """A service latency as a lognormal with the given median and 99th percentile (ms)."""

    median_ms: float
    p99_ms: float

    def draw(self, rng: random.Random) -> float:
        if self.p99_ms <= self.median_ms:
            return self.median_ms
        sigma = math.log(self.p99_ms / self.median_ms) / Z99
        return rng.lognormvariate(math.log(self.median_ms), sigma)

    @property
    def mean_ms(self) -> float:
        if self.p99_ms <= self.median_ms:
            return self.median_ms
        sigma = math.log(self.p99_ms / self.median_ms) / Z99
        return self.median_ms * math.exp(sigma * sigma / 2)


@dataclass(frozen=True, slots=True)
class Op:
    """One kind of call. Client CPU (matcher GIL): `client_ms` per call, split evenly between
    building the request and reading the response, plus `per_unit_ms` per message/key/item on the
    side that carries them (`units_in_request`). Service: on the local stack CPU of the moto
    process (`server_ms` + `server_per_unit_ms` per unit); on AWS a latency draw."""

    client_ms: float
    per_unit_ms: float
    units_in_request: bool
    server_ms: float = 0.0
    server_per_unit_ms: float = 0.0
    latency: Latency | None = None


@dataclass(frozen=True, slots=True)
class Params:
    name: str
    ops: Mapping[str, Op]
    engine_per_msg_ms: float  # matcher CPU per message besides the calls (decode, engine, plan)
    publish_ms: float  # on the cycle: the book snapshot and the hand-off
    deliver_ms: float  # the publisher thread's CPU per batch (off the cycle, same GIL)
    deliver_redis_calls: int  # Redis round trips per published batch
    items_per_msg: float  # TransactWriteItems items per message (trades, order updates)
    fixed_items: int  # per transaction: the event page and the fenced shard update
    cores: int | None  # machine cores shared by every process; None: one core per process
    moto: bool  # services are CPU of one moto server process (local stack)
    loopback_ms: float  # local: one way over loopback
    background_cores: float  # local: other load on the machine's cores
    cpu_sigma: float  # lognormal spread of every CPU segment (mean-preserving)
    book_orders: int = 1_000  # open orders a takeover rebuilds (an assumption; --book-orders)
    query_page_orders: int = 1_000  # orders per Query page of the rebuild (1 MB pages)
    restore_per_order_ms: float = 0.01  # CPU to restore one open order into the book

    def op(self, name: str) -> Op:
        return self.ops[name]


# The matcher's side of each call (ms): botocore's serialisation, signing and parsing as measured
# on this box with canned responses (no socket; docs/benchmarks.md "Scale-out model"), plus
# SOCKET_MS for the HTTP round trip's own CPU (an assumption). Fixed, not fitted.
SOCKET_MS = 0.3
CLIENT_OPS: dict[str, tuple[float, float, bool]] = {  # fixed ms, ms per unit, units in request
    "recv": (0.5 + SOCKET_MS, 0.012, False),  # 0.62 ms with 10 messages
    "get": (0.7 + SOCKET_MS, 0.027, False),  # 0.97 ms for 10 projected orders
    "commit": (0.5 + SOCKET_MS, 0.043, True),  # 1.35 ms for 20 items, 0.70 for 4
    "delete": (0.5 + SOCKET_MS, 0.012, True),  # 0.62 ms for 10 entries
    "write": (0.5 + SOCKET_MS, 0.0, True),
    "read": (0.6 + SOCKET_MS, 0.02, False),
    "query": (0.6 + SOCKET_MS, 0.02, False),
    "redis": (0.0, 0.0, True),
}
# moto's side before calibration (ms per call, ms per message/key/item); `--fit` scales them.
SERVER_OPS: dict[str, tuple[float, float]] = {
    "recv": (3.0, 0.15), "get": (2.5, 0.05), "commit": (3.0, 0.12), "delete": (3.0, 0.05),
    "write": (3.0, 0.0), "read": (3.0, 0.05), "query": (3.0, 0.03),
}
SQS_OPS = ("recv", "delete")
ENGINE_PER_MSG_MS = 0.3  # before calibration: decode, engine, commit plan, metrics, logs
DELIVER_MS = 1.5  # before calibration: the publisher thread's CPU per batch
LOCAL_REDIS = Latency(0.2, 0.2)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The scales `--fit` finds (stored here so every run starts from them)."""

    engine_scale: float  # the matcher's own CPU per message, outside the boto3 calls
    sqs_scale: float  # moto's CPU per SQS call
    ddb_scale: float  # moto's CPU per DynamoDB call
    unit_scale: float  # moto's per message/key/item costs against its per-call ones
    background_cores: float  # other load on the two cores
    deliver_scale: float  # the publisher thread's CPU


CALIBRATION = Calibration(engine_scale=0.1677, sqs_scale=1.0997, ddb_scale=1.3, unit_scale=1.0151,
                          background_cores=0.9783, deliver_scale=1.1181)


def local_params(cal: Calibration = CALIBRATION) -> Params:
    ops: dict[str, Op] = {}
    for name, (client, per_unit, in_request) in CLIENT_OPS.items():
        if name == "redis":
            ops[name] = Op(client, per_unit, in_request, latency=LOCAL_REDIS)
            continue
        server, server_unit = SERVER_OPS[name]
        scale = cal.sqs_scale if name in SQS_OPS else cal.ddb_scale
        ops[name] = Op(client, per_unit, in_request, server_ms=server * scale,
                       server_per_unit_ms=server_unit * scale * cal.unit_scale)
    return Params(
        name="local", ops=ops, engine_per_msg_ms=ENGINE_PER_MSG_MS * cal.engine_scale,
        publish_ms=0.1, deliver_ms=DELIVER_MS * cal.deliver_scale, deliver_redis_calls=2,
        items_per_msg=1.8, fixed_items=2, cores=2, moto=True, loopback_ms=0.05,
        background_cores=cal.background_cores, cpu_sigma=0.3)


@dataclass(frozen=True, slots=True)
class AwsLatencies:
    """Service latencies on AWS, same region, client-side (network included). Defaults and their
    sources are in docs/benchmarks.md ("Scale-out model")."""

    sqs: Latency = Latency(18.0, 60.0)  # ReceiveMessage / DeleteMessageBatch: mean ~20 ms
    ddb_get: Latency = Latency(5.0, 15.0)  # BatchGetItem of the batch's orders
    ddb_transact: Latency = Latency(15.0, 45.0)  # TransactWriteItems, ~20 items (assumption)
    ddb_write: Latency = Latency(5.0, 15.0)  # conditional UpdateItem / PutItem (leases)
    ddb_read: Latency = Latency(5.0, 15.0)  # GetItem / BatchGetItem / Query of a few items
    ddb_query_page: Latency = Latency(10.0, 30.0)  # one page of the open-orders Query
    redis: Latency = Latency(0.5, 2.0)  # ElastiCache in the same AZ (assumption)


AWS_LATENCIES = AwsLatencies()


def aws_params(lat: AwsLatencies = AWS_LATENCIES, cpu_scale: float = 1.0,
               cal: Calibration = CALIBRATION, book_orders: int = 1_000) -> Params:
    """The matcher's CPU as calibrated on the local stack (times cpu_scale for another CPU); the
    services' latencies instead of moto's CPU; one core per process (its own container)."""
    local = local_params(cal)
    latency = {"recv": lat.sqs, "delete": lat.sqs, "get": lat.ddb_get, "commit": lat.ddb_transact,
               "write": lat.ddb_write, "read": lat.ddb_read, "query": lat.ddb_query_page,
               "redis": lat.redis}
    ops = {name: replace(op, client_ms=op.client_ms * cpu_scale,
                         per_unit_ms=op.per_unit_ms * cpu_scale, server_ms=0.0,
                         server_per_unit_ms=0.0, latency=latency[name])
           for name, op in local.ops.items()}
    return replace(local, name="aws", ops=ops,
                   engine_per_msg_ms=local.engine_per_msg_ms * cpu_scale,
                   publish_ms=local.publish_ms * cpu_scale,
                   deliver_ms=local.deliver_ms * cpu_scale, cores=None, moto=False,
                   background_cores=0.0, book_orders=book_orders)


# --------------------------------------------------------------------------------------------
# The simulation kernel: a clock, an event heap, threads as generators, CPU scheduling


class Box:
    """A value delivered later (a call's response); the waiting thread resumes on `set`."""

    __slots__ = ("done", "value", "waiter")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.waiter: Thread | None = None

    def set(self, value: Any) -> None:
        self.done = True
        self.value = value
        if self.waiter is not None:
            waiter, self.waiter = self.waiter, None
            waiter.step(value)


@dataclass(frozen=True, slots=True)
class Cpu:
    ms: float


@dataclass(frozen=True, slots=True)
class Sleep:
    ms: float


@dataclass(frozen=True, slots=True)
class Await:
    box: Box


Cmd = Cpu | Sleep | Await
Proc_ = Generator[Cmd, Any, Any]


class Sim:
    def __init__(self, horizon_ms: float, cores: int | None) -> None:
        self.now = 0.0
        self.horizon_ms = horizon_ms
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self.cores = cores
        self.busy_cores = 0
        self.ready: deque[Process] = deque()
        self.stopped = False  # set by a run that has seen what it came for

    def at(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._heap, (t, self._seq, fn, args))
        self._seq += 1

    def run(self) -> None:
        heap = self._heap
        while heap and heap[0][0] <= self.horizon_ms and not self.stopped:
            t, _, fn, args = heapq.heappop(heap)
            self.now = t
            fn(*args)

    # CPU: a process runs one thread at a time (its GIL) and needs a core to run it. A job is
    # [remaining ms, on_done, owner thread or None].
    def dispatch(self) -> None:
        while self.ready and (self.cores is None or self.busy_cores < self.cores):
            proc = self.ready.popleft()
            proc.queued = False
            if not proc.runq or not proc.alive:
                continue
            self.busy_cores += 1
            self._slice(proc, proc.runq.popleft())

    def _slice(self, proc: Process, job: list[Any]) -> None:
        proc.on_core = True
        slice_ms = min(job[0], SWITCH_MS)
        self.at(self.now + slice_ms, self._end_slice, proc, job, slice_ms)

    def _end_slice(self, proc: Process, job: list[Any], slice_ms: float) -> None:
        proc.busy_ms += slice_ms
        job[0] -= slice_ms
        if job[0] > 1e-9:  # the switch interval: the next waiting thread goes first
            proc.runq.append(job)
            self._release(proc)
            return
        if not proc.alive:
            self._release(proc)
            return
        # The thread runs on: if its next step is CPU again it keeps the GIL and the core
        # (consecutive Python statements do not release the GIL).
        proc.continuing = job[2]
        proc.pushed = None
        job[1]()
        proc.continuing = None
        pushed, proc.pushed = proc.pushed, None
        if pushed is not None and proc.alive:
            self._slice(proc, pushed)
        else:
            self._release(proc)

    def _release(self, proc: Process) -> None:
        self.busy_cores -= 1
        proc.on_core = False
        if proc.runq and proc.alive:
            proc.enqueue()
        else:
            self.dispatch()


class Process:
    def __init__(self, sim: Sim, name: str) -> None:
        self.sim = sim
        self.name = name
        self.alive = True
        self.runq: deque[list[Any]] = deque()
        self.on_core = False
        self.queued = False
        self.busy_ms = 0.0
        self.continuing: Thread | None = None
        self.pushed: list[Any] | None = None

    def enqueue(self) -> None:
        if not self.on_core and not self.queued:
            self.queued = True
            self.sim.ready.append(self)
        self.sim.dispatch()

    def cpu(self, ms: float, done: Callable[[], None], owner: Thread | None = None) -> None:
        job = [max(ms, 0.0), done, owner]
        if owner is not None and owner is self.continuing and self.pushed is None:
            self.pushed = job  # runs right on, on the core it has
            return
        self.runq.append(job)
        self.enqueue()

    def kill(self) -> None:
        self.alive = False
        self.runq.clear()


class Thread:
    """A thread of a process; `rng` is its own random stream (its CPU jitter and, passed to its
    calls, their latencies), so a thread's draws do not depend on what other threads do."""

    def __init__(self, proc: Process, gen: Proc_, sigma: float, rng: random.Random) -> None:
        self.proc = proc
        self.gen = gen
        self.sigma = sigma
        self.rng = rng
        self.finished = False

    def start(self) -> None:
        self.step(None)

    def step(self, value: Any) -> None:
        if not self.proc.alive or self.finished:
            return
        try:
            cmd = self.gen.send(value)
        except StopIteration:
            self.finished = True
            return
        sim = self.proc.sim
        if isinstance(cmd, Cpu):
            ms = cmd.ms
            if self.sigma > 0 and ms > 0:
                ms *= self.rng.lognormvariate(-self.sigma * self.sigma / 2, self.sigma)
            self.proc.cpu(ms, self._resume, self)
        elif isinstance(cmd, Sleep):
            sim.at(sim.now + cmd.ms, self.step, None)
        elif cmd.box.done:
            sim.at(sim.now, self.step, cmd.box.value)
        else:
            cmd.box.waiter = self

    def _resume(self) -> None:
        self.step(None)


# --------------------------------------------------------------------------------------------
# SQS FIFO (one queue per symbol, one group per queue) and DynamoDB's shard and member records


@dataclass(slots=True)
class Batch:
    receipt: int
    n: int
    handed_at: float
    visible_at: float
    deleted: bool = False
    undeleted: int = 0


class FifoQueue:
    """A symbol's queue at saturation: messages are always waiting; the group is blocked while
    a batch of it is in flight (received, not deleted, visibility timeout not over)."""

    def __init__(self, visibility_ms: float) -> None:
        self.visibility_ms = visibility_ms
        self.inflight: Batch | None = None
        self.receipts = 0
        self.max_inflight = 0  # FIFO's invariant: never more than one batch of the group
        self.handed_out = 0
        self.redeliveries = 0

    def blocked_until(self, now: float) -> float | None:
        batch = self.inflight
        if batch is None or batch.deleted or batch.visible_at <= now:
            return None
        return batch.visible_at

    def hand_out(self, now: float) -> Batch | None:
        if self.blocked_until(now) is not None:
            return None
        self.receipts += 1
        previous = self.inflight
        if previous is not None and not previous.deleted:
            self.redeliveries += 1  # the timed-out batch comes back first, in order
        self.inflight = Batch(self.receipts, BATCH, now, now + self.visibility_ms,
                              undeleted=BATCH)
        invisible = [b for b in (previous, self.inflight)
                     if b is not None and not b.deleted and b.visible_at > now]
        self.max_inflight = max(self.max_inflight, len(invisible))
        self.handed_out += 1
        return self.inflight

    def delete(self, batch: Batch, n: int) -> bool:
        """Delete n messages of the batch (all of them, or one in per_message mode); the group
        flows again once the whole batch is gone."""
        if self.inflight is not batch or batch.deleted:  # a stale receipt handle deletes nothing
            return False
        batch.undeleted -= n
        batch.deleted = batch.undeleted <= 0
        return True


@dataclass(slots=True)
class ShardRecord:
    holder: str | None
    epoch: int
    lease_expires_ms: float


# --------------------------------------------------------------------------------------------
# The matcher


@dataclass(slots=True)
class Stats:
    window_from_ms: float
    batches: int = 0
    messages: int = 0
    stage_ms: list[float] = field(default_factory=lambda: [0.0] * 5)
    deliveries: int = 0
    deliver_ms: float = 0.0
    per_symbol: dict[str, list[float]] = field(default_factory=dict)  # [msgs, batches, ms]

    def add(self, symbol: str, end_ms: float, n: int, stages: Sequence[float]) -> None:
        if end_ms < self.window_from_ms:
            return
        self.batches += 1
        self.messages += n
        row = self.per_symbol.setdefault(symbol, [0.0, 0.0, 0.0])
        row[0] += n
        row[1] += 1
        row[2] += sum(stages)
        for i, ms in enumerate(stages):
            self.stage_ms[i] += ms


class World:
    """Everything one run shares: the kernel, the parameters, the queues and the records."""

    def __init__(self, params: Params, seed: int, horizon_s: float, warmup_s: float,
                 ttl_s: float, symbols: Sequence[str], per_message: bool = False) -> None:
        self.p = params
        self.per_message = per_message  # one commit (and delete) per message: the baseline
        self.seed = seed
        self.sim = Sim(horizon_s * 1000, params.cores)
        self.rng = random.Random(seed)  # start offsets and keeper phases
        self.ttl_ms = ttl_s * 1000
        self.tick_ms = min(self.ttl_ms / 5, 1000.0)  # the keeper's period (LeaseSettings.tick_s)
        self.queues = {s: FifoQueue(self.ttl_ms) for s in symbols}  # visibility timeout = TTL
        self.shards = {s: ShardRecord(None, 0, 0.0) for s in symbols}
        self.members: dict[str, float] = {}
        self.stats = Stats(warmup_s * 1000)
        self.moto = Process(self.sim, "moto") if params.moto else None
        self.events: list[tuple[float, str, str]] = []  # (t, what, symbol) for the takeover
        self.on_first_commit: Callable[[str], None] | None = None
        self._background()

    def _background(self) -> None:
        load = self.p.background_cores
        if load <= 0:
            return
        procs = math.ceil(load)
        share = load / procs
        for i in range(procs):
            proc = Process(self.sim, f"background-{i}")
            rng = self.stream(f"background:{i}")
            Thread(proc, self._burn(share, rng), 0.0, rng).start()

    def stream(self, key: str) -> random.Random:
        """A random stream of its own for one thread, derived from the run's seed. Every shard's
        worker draws from its own stream whatever the process layout, so two layouts see the
        same service latencies and differ only by contention (common random numbers)."""
        return random.Random(f"{self.seed}:{key}")

    def _burn(self, share: float, rng: random.Random) -> Proc_:
        burst = 2.0
        gap = burst * (1 - share) / share
        while True:
            yield Sleep(rng.expovariate(1 / gap) if gap > 0 else 0.0)
            yield Cpu(burst)

    # A call: client CPU, the service (moto's CPU or a latency), client CPU. `effect` runs at
    # the service's moment, whether or not the caller is still alive; it answers through reply.
    def call(self, op_name: str, units: int, rng: random.Random,
             effect: Callable[[Callable[[Any], None]], None] | None = None) -> Proc_:
        op = self.p.op(op_name)
        unit_ms = op.per_unit_ms * units
        pre = op.client_ms / 2 + (unit_ms if op.units_in_request else 0.0)
        post = op.client_ms / 2 + (0.0 if op.units_in_request else unit_ms)
        if pre > 0:
            yield Cpu(pre)
        box = Box()
        sim = self.sim
        if op.latency is not None:
            total = op.latency.draw(rng)

            def reply(value: Any) -> None:
                sim.at(sim.now + total / 2, box.set, value)

            def serve() -> None:
                if effect is None:
                    reply(None)
                else:
                    effect(reply)

            sim.at(sim.now + total / 2, serve)
        else:
            assert self.moto is not None
            moto = self.moto
            server_ms = op.server_ms + op.server_per_unit_ms * units
            if self.p.cpu_sigma > 0:
                sigma = self.p.cpu_sigma
                server_ms *= rng.lognormvariate(-sigma * sigma / 2, sigma)
            loop = self.p.loopback_ms

            def local_reply(value: Any) -> None:
                sim.at(sim.now + loop, box.set, value)

            def served() -> None:
                if effect is None:
                    local_reply(None)
                else:
                    effect(local_reply)

            sim.at(sim.now + loop, moto.cpu, server_ms, served)
        value = yield Await(box)
        if post > 0:
            yield Cpu(post)
        return value

    def receive_effect(self, symbol: str, deadline: float
                       ) -> Callable[[Callable[[Any], None]], None]:
        """SQS's side of a long-polling ReceiveMessage on the symbol's queue."""
        queue = self.queues[symbol]
        sim = self.sim

        def effect(reply: Callable[[Any], None]) -> None:
            batch = queue.hand_out(sim.now)
            if batch is not None:
                reply(batch)
                return
            until = queue.blocked_until(sim.now)
            if until is None or until > deadline:
                sim.at(deadline, reply, None)  # the long poll ends empty
            else:
                sim.at(until, effect, reply)

        return effect


class Matcher:
    """One matcher process: its shard workers, their publishers and (when leases are simulated)
    its keeper."""

    def __init__(self, world: World, name: str) -> None:
        self.w = world
        self.name = name
        self.proc = Process(world.sim, name)
        self.held: dict[str, int] = {}  # symbol -> epoch
        self.first_commit: dict[str, float] = {}

    def thread(self, gen: Proc_, rng: random.Random) -> Thread:
        t = Thread(self.proc, gen, self.w.p.cpu_sigma, rng)
        t.start()
        return t

    def start_worker(self, symbol: str, epoch: int, delay_ms: float, rebuild: bool) -> None:
        self.held[symbol] = epoch
        pending: deque[float] = deque()
        wake: list[Box] = []
        rng = self.w.stream(f"worker:{symbol}:{epoch}")
        self.thread(self._worker(symbol, epoch, delay_ms, rebuild, pending, wake, rng), rng)
        rng = self.w.stream(f"publisher:{symbol}:{epoch}")
        self.thread(self._publisher(pending, wake, rng), rng)

    def _worker(self, symbol: str, epoch: int, delay_ms: float, rebuild: bool,
                pending: deque[float], wake: list[Box], rng: random.Random) -> Proc_:
        w, p, sim = self.w, self.w.p, self.w.sim
        if delay_ms > 0:
            yield Sleep(delay_ms)
        if rebuild:
            yield from self._rebuild(rng)
            w.events.append((sim.now, "ready", symbol))
        queue = w.queues[symbol]
        while self.held.get(symbol) == epoch:
            started = sim.now
            batch = yield from w.call("recv", BATCH, rng,
                                      w.receive_effect(symbol, sim.now + LONG_POLL_S * 1000))
            if batch is None:
                continue
            assert isinstance(batch, Batch)
            received = sim.now
            if rebuild and symbol not in self.first_commit:
                w.events.append((batch.handed_at, "handed", symbol))
            parts = [1] * batch.n if w.per_message else [batch.n]
            receive_ms = received - started
            for n in parts:
                part_started = sim.now
                yield from w.call("get", n, rng)
                yield Cpu(p.engine_per_msg_ms * n)
                engined = sim.now
                items = round(p.items_per_msg * n) + p.fixed_items
                yield from w.call("commit", items, rng)
                committed = sim.now
                if symbol not in self.first_commit:
                    self.first_commit[symbol] = committed
                    w.events.append((committed, "commit", symbol))
                    if w.on_first_commit is not None:
                        w.on_first_commit(symbol)

                def delete(reply: Callable[[Any], None], batch: Batch = batch, n: int = n
                           ) -> None:
                    reply(queue.delete(batch, n))

                yield from w.call("delete", n, rng, delete)
                deleted = sim.now
                yield Cpu(p.publish_ms)
                pending.append(sim.now)
                if wake:
                    wake.pop().set(None)
                w.stats.add(symbol, sim.now, n, (receive_ms, engined - part_started,
                                                 committed - engined, deleted - committed,
                                                 sim.now - deleted))
                receive_ms = 0.0  # per_message: the shared receive counts once, as the loop does

    def _publisher(self, pending: deque[float], wake: list[Box], rng: random.Random) -> Proc_:
        w, p, sim = self.w, self.w.p, self.w.sim
        while True:
            if not pending:
                box = Box()
                wake.append(box)
                yield Await(box)
                continue
            pending.popleft()
            started = sim.now
            yield Cpu(p.deliver_ms)
            for _ in range(p.deliver_redis_calls):
                yield from w.call("redis", 1, rng)
            if started >= w.stats.window_from_ms:
                w.stats.deliveries += 1
                w.stats.deliver_ms += sim.now - started

    def _rebuild(self, rng: random.Random) -> Proc_:
        """matching/services.py ShardMatcher.start: read the shard, Query the open orders, restore
        the book, prime the fan-out (Redis snapshot, the trade chain's head)."""
        w, p = self.w, self.w.p
        yield from w.call("read", 1, rng)
        pages = max(1, math.ceil(p.book_orders / p.query_page_orders))
        for page in range(pages):
            yield from w.call("query", min(p.query_page_orders, p.book_orders - page
                                           * p.query_page_orders), rng)
        yield Cpu(p.restore_per_order_ms * p.book_orders)
        yield from w.call("redis", 1, rng)
        yield from w.call("read", 1, rng)

    # ---------------------------------------------------------------- the keeper (leases)
    def keeper(self, phase_ms: float, rng: random.Random) -> Proc_:
        """matching/loop.py MatcherLoop.tick every min(TTL/5, 1 s) after the previous one ended
        (LeaseSettings.tick_s)."""
        w, sim = self.w, self.w.sim
        yield Sleep(phase_ms)
        while True:
            now = sim.now
            expires = now + w.ttl_ms
            for symbol, epoch in list(self.held.items()):
                ok = yield from w.call("write", 1, rng, self._renew(symbol, epoch, expires))
                if not ok:
                    self.held.pop(symbol, None)
            yield from w.call("write", 1, rng, self._heartbeat(expires))
            view = yield from w.call("read", len(w.shards), rng, self._read_shards())
            members = yield from w.call("read", len(w.members) + 1, rng, self._read_members())
            live = len({m for m, exp in members.items() if exp > now} | {self.name})
            target = math.ceil(len(view) / live)
            wanted = target - len(self.held)
            if wanted > 0:
                free = [(s, r) for s, r in sorted(view.items()) if s not in self.held
                        and (r.holder is None or r.holder == self.name
                             or r.lease_expires_ms <= now)]
                rng.shuffle(free)
                for symbol, record in free[:wanted]:
                    w.events.append((now, "tick", symbol))
                    epoch = yield from w.call("write", 1, rng,
                                              self._take(symbol, record.epoch, expires))
                    if epoch is not None:
                        w.events.append((sim.now, "take", symbol))
                        self.start_worker(symbol, epoch, 0.0, rebuild=True)
            yield Sleep(w.tick_ms)

    def _renew(self, symbol: str, epoch: int, expires: float
               ) -> Callable[[Callable[[Any], None]], None]:
        def effect(reply: Callable[[Any], None]) -> None:
            record = self.w.shards[symbol]
            ok = record.holder == self.name and record.epoch == epoch
            if ok:
                record.lease_expires_ms = max(record.lease_expires_ms, expires)
            reply(ok)
        return effect

    def _heartbeat(self, expires: float) -> Callable[[Callable[[Any], None]], None]:
        def effect(reply: Callable[[Any], None]) -> None:
            self.w.members[self.name] = expires
            reply(True)
        return effect

    def _read_shards(self) -> Callable[[Callable[[Any], None]], None]:
        def effect(reply: Callable[[Any], None]) -> None:
            reply({s: replace(r) for s, r in self.w.shards.items()})
        return effect

    def _read_members(self) -> Callable[[Callable[[Any], None]], None]:
        def effect(reply: Callable[[Any], None]) -> None:
            reply(dict(self.w.members))
        return effect

    def _take(self, symbol: str, observed_epoch: int, expires: float
              ) -> Callable[[Callable[[Any], None]], None]:
        def effect(reply: Callable[[Any], None]) -> None:
            record = self.w.shards[symbol]
            if record.epoch != observed_epoch:
                reply(None)  # another process won this take
                return
            self.w.events.append((record.lease_expires_ms, "expiry", symbol))
            record.holder, record.epoch = self.name, record.epoch + 1
            record.lease_expires_ms = expires
            reply(record.epoch)
        return effect


def fair_split(symbols: Sequence[str], processes: int) -> list[list[str]]:
    """What the lease plan converges to: each process up to ceil(shards / processes)."""
    share = math.ceil(len(symbols) / processes)
    return [list(symbols[i * share:(i + 1) * share]) for i in range(processes)]


# --------------------------------------------------------------------------------------------
# Runs


@dataclass(frozen=True, slots=True)
class Throughput:
    symbols: int
    processes: int
    msgs_per_s: float
    per_symbol_max: float  # msgs/s of the busiest symbol
    cycle_ms: float
    stages_ms: tuple[float, float, float, float, float]  # receive/engine/commit/delete/publish
    deliver_ms: float
    gil_util: float  # the busiest matcher process's GIL
    server_util: float  # local: the moto process
    max_inflight: int  # per group; FIFO promises 1
    symbol_rates: tuple[tuple[float, float], ...]  # per symbol: (msgs/s, its mean cycle ms)


def run_throughput(params: Params, symbols: int, processes: int, seed: int = 1,
                   horizon_s: float = 20.0, warmup_s: float = 2.0,
                   per_message: bool = False) -> Throughput:
    names = [f"S{i:02d}" for i in range(symbols)]
    world = World(params, seed, horizon_s, warmup_s, 5.0, names, per_message)
    matchers = []
    for i, share in enumerate(fair_split(names, processes)):
        if not share:
            continue  # more processes than shards: the rest hold nothing
        matcher = Matcher(world, f"m{i}")
        matchers.append(matcher)
        for symbol in share:
            matcher.start_worker(symbol, 1, world.rng.uniform(0, 50), rebuild=False)
    world.sim.run()
    st = world.stats
    window_s = horizon_s - warmup_s
    batches = max(st.batches, 1)
    stages = tuple(ms / batches for ms in st.stage_ms)
    rates = tuple((row[0] / window_s, row[2] / row[1]) for _, row in sorted(st.per_symbol.items()))
    busiest = max((r for r, _ in rates), default=0.0)
    gil = max((m.proc.busy_ms for m in matchers), default=0.0) / (horizon_s * 1000)
    server = (world.moto.busy_ms / (horizon_s * 1000)) if world.moto else 0.0
    return Throughput(
        symbols, processes, st.messages / window_s, busiest, sum(stages),
        (stages[0], stages[1], stages[2], stages[3], stages[4]),
        st.deliver_ms / st.deliveries if st.deliveries else 0.0, gil, server,
        max(q.max_inflight for q in world.queues.values()), rates)


@dataclass(frozen=True, slots=True)
class Takeover:
    take_s: float  # kill -> every lost shard taken
    resume_s: float  # kill -> every lost shard committed again
    lease_wait_s: float  # kill -> the lease of the last shard ran out
    tick_wait_s: float  # lease expiry -> the survivor's tick that took it
    take_call_s: float  # that tick's start -> the take landed (renewals, reads, the write)
    rebuild_s: float  # take -> book rebuilt, taking batches
    visibility_wait_s: float  # ready -> the group handed out again (dead holder's batch)
    first_batch_s: float  # handed out -> first commit
    inflight_age_s: float  # kill - when SQS handed the dead holder the batch it left (0: none)


def run_takeover(params: Params, ttl_s: float, seed: int, symbols: int = 4,
                 warmup_s: float = 1.0) -> Takeover:
    """Two processes hold `symbols` shards half each; the first one is killed (-9) at a random
    moment of a TTL-long window after warm-up; the other takes its shards over."""
    names = [f"S{i:02d}" for i in range(symbols)]
    rng_seed = random.Random(seed)
    kill_ms = (warmup_s + rng_seed.uniform(0, ttl_s)) * 1000
    horizon_s = kill_ms / 1000 + 2 * ttl_s + 3 * LONG_POLL_S + 2
    world = World(params, rng_seed.randrange(2**31), horizon_s, 0.0, ttl_s, names)
    dead, survivor = Matcher(world, "m0"), Matcher(world, "m1")
    for matcher, share in zip((dead, survivor), fair_split(names, 2), strict=True):
        for symbol in share:
            record = world.shards[symbol]
            record.holder, record.epoch, record.lease_expires_ms = matcher.name, 1, world.ttl_ms
            matcher.start_worker(symbol, 1, world.rng.uniform(0, 50), rebuild=False)
        world.members[matcher.name] = world.ttl_ms
        rng = world.stream(f"keeper:{matcher.name}")
        matcher.thread(matcher.keeper(world.rng.uniform(0, world.tick_ms), rng), rng)
    lost = list(dead.held)
    inflight_at_kill: dict[str, Batch] = {}

    def kill() -> None:
        dead.proc.kill()
        for symbol in lost:
            batch = world.queues[symbol].inflight
            if batch is not None and not batch.deleted:
                inflight_at_kill[symbol] = batch

    def resumed(symbol: str) -> None:
        if all(s in survivor.first_commit for s in lost):
            world.sim.stopped = True  # every lost shard commits again: nothing more to see

    world.on_first_commit = resumed
    world.sim.at(kill_ms, kill)
    world.sim.run()
    by: dict[tuple[str, str], float] = {}
    for t, what, symbol in world.events:
        if (what == "expiry" or t >= kill_ms) and (what, symbol) not in by:
            by[(what, symbol)] = t
    # The take became possible once both the lease and the dead holder's membership had run out
    # (before that the survivor's fair share is still half the shards).
    member_expiry = world.members.get(dead.name, 0.0)
    # A batch the dead holder still had: its delete may have been on the wire at the kill and
    # landed after it (then nothing was left in flight); otherwise it is back after the timeout.
    stranded = {s: kill_ms - b.handed_at for s, b in inflight_at_kill.items() if not b.deleted}
    rows = []
    for symbol in lost:
        take, commit = by.get(("take", symbol)), by.get(("commit", symbol))
        if take is None or commit is None:
            raise RuntimeError(f"{symbol} was not taken over within the horizon (seed {seed})")
        free_from = max(by[("expiry", symbol)], member_expiry)
        tick, ready = by[("tick", symbol)], by[("ready", symbol)]
        handed = by.get(("handed", symbol), ready)
        rows.append((take - kill_ms, commit - kill_ms, free_from - kill_ms, tick - free_from,
                     take - tick, ready - take, max(0.0, handed - ready),
                     commit - max(handed, ready),
                     stranded.get(symbol, 0.0)))
    last = max(rows, key=lambda r: r[1])  # the shard that resumed last
    return Takeover(max(r[0] for r in rows) / 1000, max(r[1] for r in rows) / 1000,
                    *(v / 1000 for v in last[2:]))


# --------------------------------------------------------------------------------------------
# Calibration against the local stack's measured cycle breakdown


@dataclass(frozen=True, slots=True)
class Measured:
    symbols: int
    per_message: bool
    stages_ms: tuple[float, float, float, float, float]  # per committed batch (per_message: msg)
    deliver_ms: float
    msgs_per_s: float


# docs/benchmarks.md, "Pipeline", run 2026-12-02 18:49 UTC, 1 matcher process: group commit and
# the per-message baseline (whose receive is shared by ten commits, hence its small receive).
MEASURED = (Measured(1, False, (7.0, 5.7, 9.4, 4.6, 0.1), 2.2, 372.5),
            Measured(4, False, (22.9, 19.6, 27.3, 18.2, 0.1), 5.8, 475.3),
            Measured(1, True, (0.9, 6.0, 6.8, 5.6, 0.1), 3.0, 51.5),
            Measured(4, True, (2.3, 15.8, 16.6, 14.9, 0.1), 6.2, 79.9))
STAGES = ("receive", "engine", "commit", "delete", "publish")
FIT_HORIZON_S = 30.0
# The group rows are what the model must reproduce; the per-message rows (same consumer, ten
# calls of each kind where group commit makes one) weigh less but pin how a call's cost splits
# into a fixed part and a per-item part.
PER_MESSAGE_WEIGHT = 0.3


def measure(params: Params, m: Measured, seed: int, horizon_s: float) -> Throughput:
    return run_throughput(params, m.symbols, 1, seed, horizon_s, per_message=m.per_message)


def calibration_error(cal: Calibration, seed: int, horizon_s: float) -> float:
    """Squared relative errors of the four stages and the publisher's time, every measured row
    (a stage under 3 ms counts against 3 ms, so a sub-millisecond one cannot dominate)."""
    params = local_params(cal)
    error = 0.0
    for m in MEASURED:
        r = measure(params, m, seed, horizon_s)
        weight = PER_MESSAGE_WEIGHT if m.per_message else 1.0
        for got, want in zip(r.stages_ms[:4], m.stages_ms[:4], strict=True):
            error += weight * ((got - want) / max(want, 3.0)) ** 2
        error += weight * 0.25 * ((r.deliver_ms - m.deliver_ms) / m.deliver_ms) ** 2
    return error


def fit(seed: int, horizon_s: float, rounds: int = 4, start: Calibration = CALIBRATION,
        free: Sequence[str] = ("engine_scale", "sqs_scale", "ddb_scale", "unit_scale",
                               "background_cores", "deliver_scale")) -> tuple[Calibration, float]:
    """Coordinate descent over the scales, multiplicative steps that shrink each round."""
    cal = start
    best = calibration_error(cal, seed, horizon_s)
    step = 1.25
    for _ in range(rounds):
        for name in free:
            for factor in (step, 1 / step):
                while True:
                    trial = replace(cal, **{name: round(getattr(cal, name) * factor, 4)})
                    err = calibration_error(trial, seed, horizon_s)
                    if err >= best:
                        break
                    cal, best = trial, err
        step = math.sqrt(step)
    return cal, best


# --------------------------------------------------------------------------------------------
# Output


def _pct(got: float, want: float) -> str:
    return f"{100 * (got - want) / want:+.0f} %"


def calibration_table(params: Params, seed: int, horizon_s: float) -> list[str]:
    lines = ["| symbols | commit | | cycle ms | receive | engine | commit | delete | publish | "
             "publisher ms/batch | msgs/s |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m in MEASURED:
        r = measure(params, m, seed, horizon_s)
        mode = "per_message" if m.per_message else "group"
        lines.append(f"| {m.symbols} | {mode} | measured | {sum(m.stages_ms):.1f} | "
                     + " | ".join(f"{v:.1f}" for v in m.stages_ms)
                     + f" | {m.deliver_ms:.1f} | {m.msgs_per_s:.1f} |")
        lines.append(f"| {m.symbols} | {mode} | modelled | {r.cycle_ms:.1f} | "
                     + " | ".join(f"{v:.1f}" for v in r.stages_ms)
                     + f" | {r.deliver_ms:.1f} | {r.msgs_per_s:.1f} |")
        lines.append(f"| {m.symbols} | {mode} | error | {_pct(r.cycle_ms, sum(m.stages_ms))} | "
                     + " | ".join(_pct(g, w) for g, w in zip(r.stages_ms[:4], m.stages_ms[:4],
                                                              strict=True))
                     + f" | | {_pct(r.deliver_ms, m.deliver_ms)} | "
                     f"{_pct(r.msgs_per_s, m.msgs_per_s)} |")
    return lines


def projection(params: Params, symbol_counts: Sequence[int], process_counts: Sequence[int],
               seed: int, horizon_s: float) -> dict[tuple[int, int], Throughput]:
    results: dict[tuple[int, int], Throughput] = {}
    for symbols in symbol_counts:
        for processes in process_counts:
            results[(symbols, processes)] = run_throughput(params, symbols, processes, seed,
                                                           horizon_s)
    return results


def projection_table(results: Mapping[tuple[int, int], Throughput],
                     symbol_counts: Sequence[int], process_counts: Sequence[int]) -> list[str]:
    head = "| symbols | " + " | ".join(f"{p} proc" for p in process_counts) \
        + " | cycle ms (1 sym/proc) | per-symbol ceiling 10/cycle |"
    lines = [head, "|---:|" + "---:|" * (len(process_counts) + 2)]
    for s in symbol_counts:
        row = [f"{results[(s, p)].msgs_per_s:,.0f}" for p in process_counts]
        alone = results[(s, max(p for p in process_counts))]
        lines.append(f"| {s} | " + " | ".join(row) + f" | {alone.cycle_ms:.1f} | "
                     f"{10_000 / alone.cycle_ms:,.0f} |")
    return lines


def gil_table(results: Mapping[tuple[int, int], Throughput], symbol_counts: Sequence[int],
              process_counts: Sequence[int], server: bool) -> list[str]:
    what = "busiest matcher GIL % / moto GIL %" if server else "busiest matcher GIL %"
    lines = ["| symbols | " + " | ".join(f"{p} proc" for p in process_counts) + " |",
             "|---:|" + "---:|" * len(process_counts)]
    for s in symbol_counts:
        cells = []
        for p in process_counts:
            r = results[(s, p)]
            cell = f"{100 * r.gil_util:.0f}"
            if server:
                cell += f" / {100 * r.server_util:.0f}"
            cells.append(cell)
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return [f"({what})", *lines]


def aws_assumptions(params: Params) -> list[str]:
    names = {"recv": "ReceiveMessage (10)", "get": "BatchGetItem (10 orders)",
             "commit": "TransactWriteItems (~20 items)", "delete": "DeleteMessageBatch (10)",
             "write": "conditional write (lease, heartbeat)", "read": "GetItem / small Query",
             "query": "open-orders Query page", "redis": "Redis round trip"}
    lines = []
    for op, label in names.items():
        lat = params.op(op).latency
        if lat is not None:
            lines.append(f"- {label}: {lat.median_ms:g} / {lat.p99_ms:g} / {lat.mean_ms:.1f}")
    calls = sum(params.op(o).client_ms + params.op(o).per_unit_ms * u
                for o, u in (("recv", BATCH), ("get", BATCH), ("delete", BATCH),
                             ("commit", round(params.items_per_msg * BATCH)
                              + params.fixed_items)))
    own = params.engine_per_msg_ms * BATCH + params.publish_ms
    lines.append(f"- matcher CPU per batch of {BATCH}: {calls:.2f} ms in boto3 calls + "
                 f"{own:.2f} ms own + {params.deliver_ms:.2f} ms publisher thread = "
                 f"{calls + own + params.deliver_ms:.2f} ms under the GIL")
    return lines


def service_load(params: Params, r: Throughput) -> str:
    """What the busiest configuration asks of SQS and DynamoDB, against their quotas."""
    batches = r.msgs_per_s / BATCH
    per_queue = batches / r.symbols
    items = round(params.items_per_msg * BATCH) + params.fixed_items
    return (f"Load at {r.symbols} symbols / {r.processes} processes ({r.msgs_per_s:,.0f} msgs/s): "
            f"per queue {per_queue:.1f} ReceiveMessage/s and {per_queue:.1f} "
            f"DeleteMessageBatch/s (FIFO quota without high throughput: 300 per API action); "
            f"{batches:,.0f} TransactWriteItems/s of ~{items} items = ~{2 * items * batches:,.0f} "
            f"write units/s (2 per item of <= 1 KB); a symbol's busiest partition (its event "
            f"pages, <= 3 KB each) ~{2 * 3 * per_queue:.0f} write units/s (limit 1,000 per "
            f"partition).")


def _q(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def takeover_runs(params: Params, ttl_s: float, seed: int, runs: int) -> list[Takeover]:
    master = random.Random(f"takeover:{seed}:{ttl_s}")
    return [run_takeover(params, ttl_s, master.randrange(2**31)) for _ in range(runs)]


def takeover_table(rows: Sequence[tuple[str, float, Sequence[Takeover]]]) -> list[str]:
    lines = ["| set | TTL s | kill→take p50 / p95 s | kill→first commit p50 / p95 s | "
             "min s | lease wait | tick wait | take tick | rebuild | visibility wait | "
             "first batch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, ttl, runs in rows:
        take = [r.take_s for r in runs]
        resume = [r.resume_s for r in runs]

        def med(attr: str, runs: Sequence[Takeover] = runs) -> str:
            return f"{statistics.median(getattr(r, attr) for r in runs):.3f}"

        lines.append(f"| {name} | {ttl:g} | {_q(take, 0.5):.2f} / {_q(take, 0.95):.2f} | "
                     f"{_q(resume, 0.5):.2f} / {_q(resume, 0.95):.2f} | {min(resume):.2f} | "
                     f"{med('lease_wait_s')} | {med('tick_wait_s')} | {med('take_call_s')} | "
                     f"{med('rebuild_s')} | {med('visibility_wait_s')} | "
                     f"{med('first_batch_s')} |")
    return lines


def _latency(text: str) -> Latency:
    median, _, p99 = text.partition(",")
    return Latency(float(median), float(p99 or median))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.model", description=__doc__.split(
        "\n\n")[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", type=float, default=20.0,
                        help="simulated seconds per throughput run (the first 2 s are warm-up)")
    parser.add_argument("--runs", type=int, default=100, help="takeover runs per TTL and set")
    parser.add_argument("--ttl", type=float, nargs="+", default=[5.0, 2.0],
                        help="lease TTLs (= visibility timeout) for the takeover rows")
    parser.add_argument("--calibrate", action="store_true",
                        help="print only the calibration check (measured vs modelled)")
    parser.add_argument("--fit", action="store_true",
                        help="refit the local calibration first (slow) and print the result")
    parser.add_argument("--set", choices=("aws", "local", "both"), default="both")
    parser.add_argument("--cpu-scale", type=float, default=1.0,
                        help="aws: matcher CPU relative to this box's (e.g. 0.7 for a faster core)")
    parser.add_argument("--sqs-ms", type=_latency, default=AWS_LATENCIES.sqs,
                        help="aws: ReceiveMessage/DeleteMessageBatch median,p99 ms")
    parser.add_argument("--ddb-get-ms", type=_latency, default=AWS_LATENCIES.ddb_get,
                        help="aws: BatchGetItem median,p99 ms")
    parser.add_argument("--ddb-transact-ms", type=_latency, default=AWS_LATENCIES.ddb_transact,
                        help="aws: TransactWriteItems (~20 items) median,p99 ms (AWS publishes "
                             "no figure; an assumption)")
    parser.add_argument("--ddb-write-ms", type=_latency, default=AWS_LATENCIES.ddb_write,
                        help="aws: conditional single-item write median,p99 ms")
    parser.add_argument("--book-orders", type=int, default=1_000,
                        help="open orders a takeover rebuilds")
    args = parser.parse_args(argv)
    started = time.monotonic()
    cal = CALIBRATION
    if args.fit:
        cal, error = fit(args.seed, FIT_HORIZON_S)
        print(f"fitted: {cal} (error {error:.4f})\n")
    local = replace(local_params(cal), book_orders=args.book_orders)
    lat = replace(AwsLatencies(), sqs=args.sqs_ms, ddb_get=args.ddb_get_ms,
                  ddb_transact=args.ddb_transact_ms, ddb_write=args.ddb_write_ms)
    aws = aws_params(lat, args.cpu_scale, cal, args.book_orders)
    print(f"Calibration: local set, 1 process, seed {args.seed}, {FIT_HORIZON_S:g} s simulated "
          "(measured: docs/benchmarks.md, Pipeline, 2026-12-02 18:49)\n")
    print("\n".join(calibration_table(local, args.seed, FIT_HORIZON_S)))
    if args.calibrate:
        return
    sets = {"aws": (aws, AWS_PROCESSES), "local": (local, LOCAL_PROCESSES)}
    chosen = ("aws", "local") if args.set == "both" else (args.set,)
    for name in chosen:
        params, procs = sets[name]
        if name == "aws":
            print("\n".join(["", "aws set: latencies (median / p99 / mean ms) and matcher CPU",
                              *aws_assumptions(params)]))
        results = projection(params, SYMBOL_COUNTS, procs, args.seed, args.horizon)
        print(f"\nProjection, {name} set: msgs/s at saturation (seed {args.seed}, "
              f"{args.horizon:g} s simulated)\n")
        print("\n".join(projection_table(results, SYMBOL_COUNTS, procs)))
        print()
        print("\n".join(gil_table(results, SYMBOL_COUNTS, procs, params.moto)))
        if name == "aws":
            print()
            print(service_load(params, results[(max(SYMBOL_COUNTS), max(procs))]))
    rows = []
    for name in chosen:
        params = sets[name][0]
        for ttl in args.ttl:
            rows.append((name, ttl, takeover_runs(params, ttl, args.seed, args.runs)))
    print(f"\nTakeover after kill -9 of 1 of 2 processes (4 symbols, saturated; {args.runs} "
          f"seeded runs each; components are medians, s)\n")
    print("\n".join(takeover_table(rows)))
    print(f"\n({time.monotonic() - started:.0f} s wall)")


if __name__ == "__main__":
    main()
