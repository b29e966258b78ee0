"""Several regions in the seeded simulation (docs/architecture.md, "Regions"): Model A, one leader,
followers that forward writes, replication between the regions' replicas, a partition at a seeded
moment, the failover the health monitors make, the heal and the reconciliation ops runs.

Everything that decides is the product's code, on simulated I/O:
* replication: `devstack.replicator.Replicator` (the local stack's Global Tables) reading each
  region's simulated DynamoDB Streams and writing into the others, its partition view from
  `tulip.drills.partitions` (the partition drill's list, here the run's own);
* leadership and failover: `ops.regions.monitor_step` in every region each second, probing the
  others' GET /region (`tulip.regions.read`, answered by an API server of that region over the
  simulated HTTP); the matchers follow `tulip.regions.read` and take shards under the new term,
  forking off a deposed leader's torn tail (`matching.fork`);
* order entry: the views' routing, `orders.forwarding.through_leader` (a follower forwards to the
  leader over the simulated HTTP; leader unreachable: 503, or a provisional order under
  acceptWhenLeaderDown), then `orders.services`;
* reconciliation: `ops.ledger.take_snapshot`, `ops.checks.check` and `ops.services.fix_finding`
  (`manage.py reconcile --fix` without its Django bookkeeping), run in the leader region once the
  regions have healed and converged; then a second pass that must find nothing open.

Simulated, not the product's: GET /region's answer (the leadership view only: readiness needs
the tables and queues the simulated network already reaches). The replicator converges a cycle's
items in sorted order, so a seed replays in any interpreter.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import devstack.provision
import devstack.replicator
import ops.ledger
import ops.regions
import orders.forwarding
import tulip.storage
from devstack.replicator import Replicator
from ops import checks
from ops.storage import OpsStorage
from orders import services
from orders.forwarding import LeaderUnreachable
from tests.sim.actors import History, Intent, NoAnswer, Region, Trader, http
from tests.sim.faults import Faults
from tests.sim.patches import SimTime, clock_functions, patcher
from tests.sim.world import START, SimProcess, World
from tulip import drills, regions
from tulip.config import Config
from tulip.schema import LeaderItem

NAMES = ("us-east-1", "us-west-2", "eu-west-1")
MONITOR_PERIOD_S = ops.regions.MONITOR_PERIOD_S
UNSEEN_AGE_S = 60.0  # manage.py reconcile's default
IDLE_POLL_S = 2.0
RECONCILE_RETRY_S = 5.0  # an operator re-running `manage.py reconcile --fix` that failed


@dataclass(frozen=True, slots=True)
class RegionPlan:
    """A seed's regions and its region fault: `isolated` is cut off from every other region at
    `partition_at` (simulated seconds after the start) for `partition_s`, then healed."""

    regions: int
    partition: bool
    isolated: int  # 0: the leader region
    partition_at: float
    partition_s: float
    provisional: bool  # the acceptWhenLeaderDown flag
    replication_poll_s: float

    @classmethod
    def draw(cls, rng: random.Random) -> RegionPlan:
        # A partition shorter than the step-down (3 s) changes nothing but replication's lag;
        # longer than the failover (6 s) moves the leadership; in between the leader stops
        # writing and nobody takes over until the heal.
        return cls(regions=2, partition=rng.random() < 0.85, isolated=rng.choice((0, 0, 1)),
                   partition_at=rng.uniform(1.5, 6.0),
                   partition_s=rng.choice((rng.uniform(1.0, 4.0), rng.uniform(4.0, 6.0),
                                           rng.uniform(8.0, 20.0), rng.uniform(8.0, 20.0))),
                   provisional=rng.random() < 0.5, replication_poll_s=rng.uniform(0.2, 0.6))

    def describe(self) -> str:
        fault = (f"region {NAMES[self.isolated]} cut off at {self.partition_at:.1f} s for "
                 f"{self.partition_s:.1f} s" if self.partition else "no partition")
        flag = ", acceptWhenLeaderDown" if self.provisional else ""
        return (f"{self.regions} regions (replication every {self.replication_poll_s:.2f} s), "
                f"{fault}{flag}")


# ------------------------------------------------------------------------------------ order entry
@dataclass(frozen=True, slots=True)
class Call:
    """A POST /order or /cancel as the views see it (what forwarding passes on as it came)."""

    kind: str  # order | cancel
    client_id: str
    body: dict[str, Any]


@dataclass
class Regional:
    """The regions of one run, the processes that join them, and the phases after the fault."""

    world: World
    faults: Faults
    plan: RegionPlan
    regions: list[Region]
    servers: dict[str, list[SimProcess]] = field(default_factory=dict)
    cut: set[frozenset[str]] = field(default_factory=set)
    processes: list[SimProcess] = field(default_factory=list)
    phase: str = "trading"  # trading -> fixing -> checking -> done
    reconcile_done: bool = False
    refix: bool = False  # a fix was refused where leadership had moved: run it again
    findings: Counter[str] = field(default_factory=Counter)  # the first reconcile's, by kind
    fixed: Counter[str] = field(default_factory=Counter)
    open_after: list[str] = field(default_factory=list)  # the second pass's open findings
    leaders: list[str] = field(default_factory=list)  # every leader region seen, in order
    duplicate_keys: int = 0  # idempotency keys with orders in two regions (checks.py)

    def region(self, name: str) -> Region:
        return next(r for r in self.regions if r.name == name)

    # ---------------------------------------------------------------- leadership, as stored
    def leader(self) -> str:
        """The leader region by the newest leadership record any replica holds (the
        configuration's first region before any)."""
        best: tuple[int, str] = (0, self.regions[0].name)
        key = LeaderItem.key()
        for region in self.regions:
            item = region.table("trades").items.get((("S", key), ("S", key)))
            if item is not None and int(item["term"]["N"]) > best[0]:
                best = (int(item["term"]["N"]), str(item["leaderRegion"]["S"]))
        return best[1]

    def note_leader(self) -> None:
        leader = self.leader()
        if not self.leaders or self.leaders[-1] != leader:
            if self.leaders:
                self.faults.note("region:failover")
            self.leaders.append(leader)

    @property
    def failed_over(self) -> bool:
        return len(self.leaders) > 1

    # ---------------------------------------------------------------- processes
    def deploy(self, cfg0: Config) -> None:
        for region in self.regions:
            monitor = SimProcess(f"monitor@{region.name}", "monitor", region,
                                 on_start=lambda p, r=region: self._start_monitor(p, r))
            self.processes.append(monitor)
        replicator = SimProcess("replicator", "replicator", self.regions[0],
                                on_start=lambda p: self._start_replicator(p, cfg0))
        self.processes.append(replicator)
        if self.plan.partition:
            names = [r.name for r in self.regions]
            isolated = names[self.plan.isolated]
            self.world.spawn(self.world.system, "partition", lambda: self._partition(isolated),
                             self.plan.partition_at)
            self.world.spawn(self.world.system, "heal", self._heal,
                             self.plan.partition_at + self.plan.partition_s)

    def _partition(self, isolated: str) -> None:
        self.faults.note("region:partition")
        self.cut |= {frozenset((isolated, r.name)) for r in self.regions if r.name != isolated}

    def _heal(self) -> None:
        self.faults.note("region:heal")
        self.cut.clear()

    def partitions(self, cfg: Config) -> frozenset[frozenset[str]]:
        return frozenset(self.cut)

    def _start_replicator(self, process: SimProcess, cfg: Config) -> None:
        replicator = Replicator(cfg)
        process.state = replicator

        idle = [0]

        def step() -> float:
            applied = 0
            with contextlib.suppress(Exception):  # as Replicator.run: retry the whole cycle
                applied = replicator.cycle()
            # Idle, it polls less often (up to every IDLE_POLL_S): a long quiet tail costs
            # fewer steps; a change waits for the next poll at most that long.
            idle[0] = 0 if applied else idle[0] + 1
            return min(IDLE_POLL_S, self.plan.replication_poll_s * 2 ** min(idle[0], 4))

        self.world.spawn(process, "replicator/cycle", step, self.plan.replication_poll_s)

    def _start_monitor(self, process: SimProcess, region: Region) -> None:
        cfg = region.cfg
        state = ops.regions.MonitorState(started=self.world.now)

        def step() -> float:
            with contextlib.suppress(Exception):  # as run_monitor: the next pass decides again
                ops.regions.monitor_step(cfg, state, self.world.now, self.probe)
            self.note_leader()
            return MONITOR_PERIOD_S

        self.world.spawn(process, f"{process.name}/pass", step, self.world.rng.uniform(0.0, 1.0))

    def probe(self, cfg: Config, name: str) -> tuple[bool, bool, int | None]:
        """ops.regions.probe on the simulated network: GET /region of one of its API servers,
        (answered, healthy, the leadership term it reports)."""
        if drills.partitioned(cfg, cfg.aws_region, name):
            return False, False, None
        target = self.region(name)
        try:
            status, term = http(self.world, self.faults, self._server(name),
                                lambda: region_health(target.cfg))
        except NoAnswer:
            return False, False, None
        return True, status == 200, int(term) if term is not None else None

    def _server(self, name: str) -> SimProcess:
        servers = self.servers[name]
        return self.world.rng.choice([s for s in servers if s.alive] or servers)

    # ---------------------------------------------------------------- order entry
    def serve(self, cfg: Config, call: Call) -> tuple[int, str | None]:
        """orders/apis.py's OrderView.post and CancelView.post in region `cfg`."""
        path = "/order" if call.kind == "order" else "/cancel"
        answer, provisional = orders.forwarding.through_leader(
            cfg, call, path, provisional_ok=call.kind == "order")  # type: ignore[arg-type]
        if answer is not None:
            forwarded: tuple[int, str | None] = answer  # type: ignore[assignment]
            return forwarded
        if call.kind == "order":
            result = services.submit_order(cfg, call.client_id, dict(call.body), None,
                                           provisional)
            if provisional:
                self.faults.note("region:provisional_order")
            return (201 if result.created else 200), result.order.order_id
        return 200, services.cancel_order(cfg, call.client_id, dict(call.body)).order_id

    def forward(self, cfg: Config, route: services.WriteRoute, request: Any,
                path: str) -> Any:
        """orders.forwarding.forward on the simulated network: the leader's answer as it is."""
        if route.leader_url is None or drills.partitioned(cfg, cfg.aws_region,
                                                          route.leader_region):
            raise LeaderUnreachable(route.leader_region)
        leader = self.region(route.leader_region)
        try:
            return http(self.world, self.faults, self._server(leader.name),
                        lambda: self.serve(leader.cfg, request))
        except NoAnswer:
            raise LeaderUnreachable(route.leader_region) from None

    # ---------------------------------------------------------------- after the fault
    def converged(self) -> bool:
        first = ledger_state(self.regions[0])
        return all(ledger_state(r) == first for r in self.regions[1:])

    def settled(self, quiet: bool) -> bool:
        """Called while the run looks quiet (traders done, the leader's queues empty, nothing
        ACCEPTED): True once the regions converged, reconciliation ran (`--fix`), the regions
        converged again and a second pass found what it found."""
        if not quiet or self.cut or (self.plan.partition and self.world.now < self._heal_at()):
            return False
        if not self.converged():
            return False
        if self.phase == "done":
            return True
        if self.phase == "trading":
            self._reconcile(fix=True)
            self.phase = "fixing"
        elif self.phase == "fixing" and self.reconcile_done and self.refix:
            self.refix = False
            self._reconcile(fix=True)
        elif self.phase == "fixing" and self.reconcile_done:
            self._reconcile(fix=False)
            self.phase = "checking"
        elif self.phase == "checking" and self.reconcile_done:
            self.phase = "done"
            return True
        return False

    def _heal_at(self) -> float:
        return START + self.plan.partition_at + self.plan.partition_s

    def _reconcile(self, fix: bool) -> None:
        """`manage.py reconcile [--fix]` in the leader region (an ops task, not killed)."""
        self.reconcile_done = False
        leader = self.region(self.leader())
        process = SimProcess(f"reconcile@{leader.name}", "ops", leader)

        def run() -> float | None:
            try:
                self._reconcile_pass(leader.cfg, fix)
            except Exception:  # the wire failed it (a lost response, a throttle): ops runs the
                return RECONCILE_RETRY_S  # command again, which takes a new snapshot first
            return None

        self.world.spawn(process, "reconcile", run)

    def _reconcile_pass(self, cfg: Config, fix: bool) -> None:
        fix_finding = ops_services().fix_finding
        store = OpsStorage(cfg)
        snapshot = ops.ledger.take_snapshot(cfg, None, None, UNSEEN_AGE_S, store)
        found, _ = checks.check(snapshot, UNSEEN_AGE_S)
        if fix:
            self.findings.update(f.kind for f in found)
            for finding in found:
                outcome = fix_finding(cfg, store, finding, 1)
                if outcome["ok"]:
                    self.fixed[finding.kind] += 1
                    self.faults.note(f"region:reconciled:{finding.kind}")
                elif outcome["action"] == ops_services().NOT_LEADER_ACTION:
                    self.refix = True  # leadership moved since: ops runs it in the new leader
        else:
            self.open_after = [f"{f.kind} {f.key}: expected {f.expected}, actual {f.actual}"
                               for f in found]
        self.reconcile_done = True


def provision_leadership(region: Region, leader: str) -> None:
    """The leadership record every replica starts with (devstack.provision.put_leader, as the
    launcher writes it): the monitors' failover is conditioned on the term it holds."""
    class Client:
        @staticmethod
        def put_item(**request: Any) -> None:
            region.ddb.call("PutItem", request)

    devstack.provision.put_leader(Client(), SimpleNamespace(trades_table=region.cfg.trades_table),
                                  leader)


def region_health(cfg: Config) -> tuple[int, str | None]:
    """GET /region's status and `epoch` (ops.regions.region_view): 503 once this region stepped
    down; the term of the leadership this region's replica holds."""
    leadership = regions.read(cfg)
    return (503 if leadership.stepped_down else 200), str(leadership.term)


VOLATILE_PREFIXES = ops.regions.VOLATILE_PREFIXES
VOLATILE_SHARD_FIELDS = ops.regions.VOLATILE_SHARD_FIELDS


def ledger_state(region: Region) -> dict[tuple[str, Any], Any]:
    """What `manage.py state_hash` hashes (ops/regions.py): every ledger item of both tables,
    without the volatile ones and the shards' lease fields."""
    state: dict[tuple[str, Any], Any] = {}
    for role in ("orders", "trades"):
        for key, item in region.table(role).items.items():
            pk = str(item["pk"]["S"])
            if pk.startswith(VOLATILE_PREFIXES):
                continue
            if pk.startswith("SHARD#"):
                item = {k: v for k, v in item.items() if k not in VOLATILE_SHARD_FIELDS}
            state[(role, key)] = item
    return state


# ------------------------------------------------------------------------------------ traders
class RegionalTrader(Trader):
    """A trader pinned to a home region (the SDK's choice); after a failed try it re-pins, as the
    SDK does by GET /region, to another region for the next one."""

    def __init__(self, regional: Regional, home: str, world: World, faults: Faults,
                 process: SimProcess, cfg: Config, intents: list[Intent],
                 history: History) -> None:
        super().__init__(world, faults, process, cfg, intents, regional.servers[home], history)
        self.regional = regional
        self.home = home

    def _handler(self, intent: Intent) -> Callable[[], tuple[int, str | None]] | None:
        client_id = self.client_id
        if intent.kind == "order":
            call = Call("order", client_id, dict(intent.body))
        else:
            assert intent.target is not None
            order_id = self.order_ids.get(intent.target)
            if order_id is None:
                return None
            call = Call("cancel", client_id, {"orderId": order_id})
        regional, world = self.regional, self.world

        def handle() -> tuple[int, str | None]:
            current = world.current
            assert current is not None
            return regional.serve(current.process.region.cfg, call)  # the answering server's

        return handle

    def _once(self, intent: Intent, handler: Callable[[], tuple[int, str | None]],
              ) -> tuple[int, str | None]:
        self.servers = self.regional.servers[self.home]
        status, order_id = super()._once(intent, handler)
        if status in (0, 500, 503):
            others = [r.name for r in self.regional.regions if r.name != self.home]
            self.home = self.world.rng.choice(others)
        return status, order_id


# ------------------------------------------------------------------------------------ patches
@contextlib.contextmanager
def regional_patches(regional: Regional) -> Iterator[None]:
    """The seams only several regions need (tests/sim/patches.py installs the rest)."""
    world = regional.world
    sim_time = SimTime(world)
    functions = clock_functions(world)
    with contextlib.ExitStack() as stack:
        patch = patcher(stack)
        patch(drills, "partitions", regional.partitions)
        patch(orders.forwarding, "forward", regional.forward)
        patch(devstack.replicator, "time", sim_time)
        patch(ops.regions, "time", sim_time)
        patch(ops.regions, "now_iso", functions["now_iso"])
        patch(tulip.storage, "CHAIN_CACHE_S", -1.0)  # one process, several regions: no cache
        patch(ops_services(), "now_iso", functions["now_iso"])
        yield


def ops_services() -> Any:
    """ops.services (reconciliation's fixes) is a Django app's module: the apps must be ready,
    also in a run outside pytest (`python -m tests.sim`, a replay in another interpreter)."""
    import os

    import django
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tulip.settings")
        django.setup()
    import ops.services

    return ops.services

