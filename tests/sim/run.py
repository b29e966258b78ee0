"""One seeded run of the whole pipeline: `run_seed(seed)` -> `SimResult`.

The seed decides everything: the deployment (symbols, traders and their scripts, API servers,
matcher processes), every fault (tests/sim/faults.py), every latency, every order id. The same
seed replays the same history exactly (`python -m tests.sim --seed N` or
`pytest tests/sim/test_pipeline_sim.py --sim-seed N`).

Phases: the traders work through their scripts under faults; then the run goes on until the
pipeline is quiet (every trader done, no order still ACCEPTED, every events queue empty) or the
horizon passes (long enough for SQS's 5-minute dedupe window and the sweeper's 60-second re-send
to repair anything). Checks run after every step (tests/sim/checks.py, StreamChecker) and at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import matching.storage
from matching.engine import OpenOrder
from tests.sim.actors import History, Region, Trader, script, start_worker
from tests.sim.checks import StreamChecker, final_violations, regional_violations
from tests.sim.faults import LAGGING_INDEX_PROFILES, Faults, Rates
from tests.sim.matcher import SimShardWorker, start_matcher
from tests.sim.network import Exchange, Network
from tests.sim.patches import patcher, simulated
from tests.sim.planted import planted
from tests.sim.regions import (
    NAMES,
    Regional,
    RegionalTrader,
    RegionPlan,
    provision_leadership,
    regional_patches,
)
from tests.sim.world import START, SimAbort, SimProcess, World
from tulip.config import Config, load_config

HORIZON_S = 1500.0  # the latest the pipeline must be quiet by (simulated seconds)
SYMBOL_NAMES = ("TULIP", "ROSE", "IRIS")
# The share of default-profile seeds that run several regions (tests/sim/regions.py), most of
# them with a partition, a failover or a step-down, and the heal.
REGION_SHARE = 0.2


PROFILES = ("default", *LAGGING_INDEX_PROFILES)


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int
    profile: str
    symbols: tuple[str, ...]
    traders: int
    intents: int  # per trader
    api_servers: int
    matchers: int
    spread: int  # traders' prices lie within this many ticks of 100.00
    rates: Rates
    regions: RegionPlan | None = None  # None: one region

    @classmethod
    def draw(cls, seed: int, profile: str = "default") -> Scenario:
        """`default`: everything at once, GSIs read-after-write (as on the local stand-in);
        `stale_reads`: one busy symbol whose GSI lags (as DynamoDB's may), see faults.Rates;
        `stale_index`: the same, with the index lagging further back than the matcher's rebuild
        reads the table again (matching.storage.REBUILD_RECHECK_EVENTS made 0): the book a
        rebuild makes may be stale, what the `filledQty` condition guards against."""
        rng = random.Random(f"{seed}:scenario")
        if profile in LAGGING_INDEX_PROFILES:
            return cls(seed, profile, SYMBOL_NAMES[:1], rng.randint(3, 4), rng.randint(8, 12),
                       rng.randint(1, 2), rng.randint(1, 2), 1, Rates.draw(rng, profile))
        regional = random.Random(f"{seed}:regions")
        plan = RegionPlan.draw(regional) if regional.random() < REGION_SHARE else None
        return cls(seed, profile, SYMBOL_NAMES[:rng.randint(1, 3)], rng.randint(2, 4),
                   rng.randint(4, 10), rng.randint(1, 2), rng.randint(1, 3), 3, Rates.draw(rng),
                   plan)

    def describe(self) -> str:
        rates = self.rates
        crash = ", ".join(f"{k} {p:.0%}" for k, p in rates.crash.items() if p)
        return (f"{len(self.symbols)} symbol(s), {self.traders} traders x {self.intents} intents, "
                f"{self.api_servers} API server(s), {self.matchers} matcher(s); duplicates "
                f"{rates.duplicate:.0%}, lost responses {rates.drop:.1%}, throttles "
                f"{rates.throttle:.1%}, conflicts {rates.conflict:.1%}, skew <= {rates.skew_s} s, "
                f"GSI lag <= {rates.index_lag_s} s, lease pauses {rates.lease_pause:.0%}"
                + (f", crashes: {crash}" if crash else "")
                + (f"; {self.regions.describe()}" if self.regions else ""))


@dataclass
class SimResult:
    seed: int
    bug: str | None
    scenario: Scenario
    violations: list[str] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)  # see ReferenceReplay
    orders: int = 0
    trades: int = 0
    slowest_match_s: float = 0.0
    digest: str = ""  # of everything stored and answered: equal for equal histories
    steps: int = 0
    simulated_s: float = 0.0
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def report(self) -> str:
        planted_bug = f" with planted bug {self.bug}" if self.bug else ""
        profile = f" ({self.scenario.profile})" if self.scenario.profile != "default" else ""
        lines = [f"simulation seed {self.seed}{profile}{planted_bug}: {self.scenario.describe()}",
                 f"  {self.orders} orders, {self.trades} trades, {self.steps} steps, "
                 f"{self.simulated_s:.1f} simulated s, {self.wall_s:.2f} s, slowest accept -> "
                 f"match {self.slowest_match_s:.1f} s",
                 f"  faults: {dict(sorted(self.injected.items()))}"]
        if +self.findings:
            lines.append(f"  findings: {dict(+self.findings)}")
        lines += [f"  VIOLATION: {v}" for v in self.violations[:10]]
        if self.violations:
            lines.append(f"  replay: {replay_command(self.seed, self.bug, self.scenario.profile)}")
        return "\n".join(lines)


def replay_command(seed: int, bug: str | None = None, profile: str = "default") -> str:
    options = f" --sim-bug {bug}" if bug else ""
    options += f" --sim-profile {profile}" if profile != "default" else ""
    return (f"TULIP_ENV=test .venv/bin/python -m pytest -p no:cacheprovider "
            f"tests/sim/test_pipeline_sim.py --sim-seed {seed}{options}")


def sim_config(symbols: tuple[str, ...], region: str = "us-east-1",
               regions: tuple[str, ...] = (), provisional: bool = False) -> Config:
    """One region's configuration; with `regions`, the first leads (REGION_ROLE)."""
    queues = f"https://sqs.{region}.amazonaws.com/000000000000"
    env = {
        "TULIP_ENV": "test", "TULIP_SYMBOLS": ",".join(symbols), "AWS_REGION": region,
        "EVENTS_FIFO_URL": f"{queues}/tulip-events-{{symbol}}.fifo",
        "EVENTS_DLQ_URL": f"{queues}/tulip-events-dlq.fifo", "SWEEPER_INTERVAL_S": "2",
        "MATCHER": "book",
    }
    if regions:
        env |= {"TULIP_REGIONS": ",".join(regions), "LEADER_REGION": regions[0],
                "REGION_ROLE": "leader" if region == regions[0] else "follower"}
        env |= {f"TULIP_URL_{r.upper().replace('-', '_')}": f"https://api.{r}.sim"
                for r in regions}
        if provisional:
            env["FEATURE_FLAGS"] = '{"acceptWhenLeaderDown": true}'
    return load_config(env)


@dataclass
class Run:
    """The simulated deployment of one seed, before and while it runs."""

    scenario: Scenario
    world: World
    faults: Faults
    cfg: Config
    region: Region
    network: Network
    history: History = field(default_factory=History)
    traders: list[Trader] = field(default_factory=list)
    processes: list[SimProcess] = field(default_factory=list)
    regional: Regional | None = None
    strict_keys: bool = False
    checker: StreamChecker = field(init=False)
    checkers: dict[str, StreamChecker] = field(init=False)  # every region's, by name

    def __post_init__(self) -> None:
        self.checker = StreamChecker(self.region)
        self.checkers = {self.region.name: self.checker}
        if self.regional is not None:
            self.checker.label = self.region.name
            for region in self.regional.regions[1:]:
                self.checkers[region.name] = StreamChecker(region, self.checker.violations,
                                                           label=region.name)
        self.world.after_step.append(self._check)
        self.world.restart_delay = lambda process: self.world.rng.uniform(0.5, 3.0)

    def _check(self) -> None:
        if any([checker.check() for checker in self.checkers.values()]):
            raise SimAbort

    @property
    def regions(self) -> list[Region]:
        return self.regional.regions if self.regional is not None else [self.region]

    # ---------------------------------------------------------------- the deployment
    def deploy(self) -> None:
        world, faults = self.world, self.faults
        servers: dict[str, list[SimProcess]] = {}
        for index, region in enumerate(self.regions):
            at, cfg = (f"@{region.name}" if index else ""), region.cfg
            servers[region.name] = [self._process(f"api-{i + 1}{at}", "api", lambda p: None,
                                                  region)
                                    for i in range(self.scenario.api_servers)]
            self._process(f"worker{at}", "worker", lambda p, c=cfg: start_worker(p, world, c),
                          region)
            for i in range(self.scenario.matchers):
                self._process(f"matcher-{i + 1}{at}", "matcher",
                              lambda p, c=cfg, r=region: start_matcher(
                                  p, world, c, faults, self._publisher(r)), region)
        homes = random.Random(f"{self.scenario.seed}:homes")
        if self.regional is not None:
            self.regional.servers = servers
            self.regional.deploy(self.cfg)
        rng = random.Random(f"{self.scenario.seed}:traders")
        for i in range(self.scenario.traders):
            client = SimProcess(f"{i + 1:08d}-0000-4000-8000-00000000000{i}", "client",
                                self.region)
            intents = script(rng, self.cfg.symbols, self.scenario.intents, self.scenario.spread)
            trader: Trader
            if self.regional is None:
                trader = Trader(world, faults, client, self.cfg, intents,
                                servers[self.region.name], self.history)
            else:
                home = homes.choice(self.regional.regions).name
                trader = RegionalTrader(self.regional, home, world, faults, client, self.cfg,
                                        intents, self.history)
            self.traders.append(trader)
            world.spawn(client, f"{client.name}/trader", trader.step, rng.uniform(0.5, 3.0))
        self._chaos(random.Random(f"{self.scenario.seed}:chaos"))

    def _process(self, name: str, kind: str, on_start: Any, region: Region) -> SimProcess:
        process = SimProcess(name, kind, region, self.faults.skew(), on_start=on_start)
        self.processes.append(process)
        return process

    def _publisher(self, region: Region) -> Any:
        """What the fan-out calls before it publishes: the check of the matcher's region."""
        def published(symbol: str, events: Any, snapshot: Any) -> None:
            self.checkers[region.name].published(symbol, events)

        return published

    def _chaos(self, rng: random.Random) -> None:
        """Faults at random moments of the busy phase: kills, stops, Redis outages, throttle
        bursts (the crash windows and lease pauses happen at their points in the code)."""
        if not self.faults.enabled:
            return
        busy = 4.0 + self.scenario.intents * 0.5
        actions = [self._kill, self._stop, self._redis_outage, self._throttle_burst]
        for _ in range(rng.randint(0, 4)):
            action = rng.choice(actions)
            self.world.spawn(self.world.system, "chaos", lambda a=action: a(rng),
                             rng.uniform(1.0, busy))

    def _kill(self, rng: random.Random) -> None:
        process = rng.choice([p for p in self.processes if p.alive] or self.processes)
        self.faults.note(f"kill -9:{process.kind}")
        self.world.kill(process, "kill -9")

    def _stop(self, rng: random.Random) -> None:
        process = rng.choice(self.processes)
        self.faults.note(f"sigstop:{process.kind}")
        self.world.pause(process, rng.uniform(0.5, 2 * self.cfg.matcher_lease_ttl_s))

    def _redis_outage(self, rng: random.Random) -> None:
        self.faults.note("redis_outage")
        redis = (rng.choice(self.regions) if self.regional is not None else self.region).redis
        redis.vanish()
        self.world.spawn(self.world.system, "redis-back", redis.come_back, rng.uniform(0.5, 5.0))

    def _throttle_burst(self, rng: random.Random) -> None:
        process = rng.choice(self.processes)
        self.faults.note(f"throttle_burst:{process.kind}")
        self.network.throttled_until[process.name] = self.world.now + rng.uniform(0.2, 3.0)

    # ---------------------------------------------------------------- running
    def quiet(self) -> bool:
        if self.regional is None:
            return (all(t.done for t in self.traders) and not self.checker.accepted
                    and not any(q.messages for q in self.region.sqs.queues.values()))
        leader = self.regional.region(self.regional.leader())
        quiet = (all(t.done for t in self.traders) and not self.checkers[leader.name].accepted
                 and not any(q.messages for q in leader.sqs.queues.values()))
        return self.regional.settled(quiet)

    def leader(self) -> Region:
        return self.regional.region(self.regional.leader()) if self.regional else self.region

    def leading_books(self) -> dict[str, list[OpenOrder]]:
        """The book of each shard's current holder, if one is leading it now."""
        books: dict[str, list[OpenOrder]] = {}
        leader = self.leader()
        epochs = {symbol: epoch for symbol, (epoch, _) in self.checkers[leader.name].shards.items()}
        for process in self.processes:
            loop = (process.state if process.kind == "matcher" and process.alive
                    and process.region is leader else None)
            for symbol, worker in (loop.workers.items() if loop is not None else ()):
                if getattr(worker, "leading", False) and not worker.lost.is_set() and (
                        worker.epoch == epochs.get(symbol)):
                    books[symbol] = worker.matcher.engine.open_orders()
        return books


def build(seed: int, faults_on: bool = True, record: list[Exchange] | None = None,
          profile: str = "default") -> Run:
    scenario = Scenario.draw(seed, profile)
    world = World(seed)
    faults = Faults(scenario.rates, random.Random(f"{seed}:faults"), enabled=faults_on)
    plan = scenario.regions
    if plan is None:
        cfg = sim_config(scenario.symbols)
        region = Region.build(world, faults, cfg)
        return Run(scenario, world, faults, cfg, region, Network(world, faults, record))
    names = NAMES[:plan.regions]
    regions = [Region.build(world, faults, sim_config(scenario.symbols, name, names,
                                                      plan.provisional)) for name in names]
    for region in regions:
        provision_leadership(region, names[0])
    network = Network(world, faults, record, regions={r.name: r for r in regions})
    regional = Regional(world, faults, plan, regions)
    return Run(scenario, world, faults, regions[0].cfg, regions[0], network,
               regional=regional)


def run_seed(seed: int, bug: str | None = None, *, profile: str = "default",
             strict_keys: bool = False, faults_on: bool = True,
             record: list[Exchange] | None = None) -> SimResult:
    """`strict_keys`: idempotency keys with orders in two regions are violations even when
    compensated (a known defect, tests/sim/test_known_issues.py)."""
    started = time.perf_counter()
    run = build(seed, faults_on, record, profile)
    run.strict_keys = strict_keys
    result = SimResult(seed, bug, run.scenario)
    with simulated(run.world, run.network, run.cfg, run.faults.crash, SimShardWorker), \
            planted(bug, run.network.rewrites), _regional(run), _profile(run):
        run.deploy()
        for process in run.processes + (run.regional.processes if run.regional else []):
            run.world.start(process)
        try:
            run.world.run(START + HORIZON_S, stop=run.quiet)
            if not run.quiet():
                run.checker.fail("the pipeline did not go quiet within the horizon")
            run.checker.violations += final_checks(run)
        except SimAbort:
            pass
    result.violations = list(run.checker.violations)
    result.injected = Counter(run.faults.injected)
    result.orders = len(run.checker.orders)
    result.trades = sum(1 for item in run.leader().table("trades").items.values()
                        if str(item["pk"]["S"]).startswith("TRADE#"))
    result.findings = Counter({"cancel rejected after a rebuild": run.checker.late_cancels,
                               "decided against an order its owner had cancelled":
                                   run.checker.stale_decisions})
    if run.regional is not None:
        result.findings["an idempotency key with orders in two regions"] = \
            run.regional.duplicate_keys
    result.slowest_match_s = run.checker.slowest_match_s
    result.digest = history_digest(run)
    result.steps = run.world.steps
    result.simulated_s = run.world.now - START
    result.wall_s = time.perf_counter() - started
    return result


def _regional(run: Run) -> Any:
    return regional_patches(run.regional) if run.regional is not None else contextlib.nullcontext()


@contextlib.contextmanager
def _profile(run: Run) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if run.scenario.profile == "stale_index":
            patcher(stack)(matching.storage, "REBUILD_RECHECK_EVENTS", 0)
        yield


def final_checks(run: Run) -> list[str]:
    """The end of the run: one region's ledger, books and queues (tests/sim/checks.py); with
    several, the leader's, then every region against the others (tests/sim/regions.py)."""
    leader = run.leader()
    if run.regional is None:
        return final_violations(run.region, run.history, run.checker, run.leading_books())
    found: list[str] = []
    if not run.regional.failed_over:
        # The leadership never moved: one history, in the leader's replica.
        found += final_violations(leader, run.history, run.checkers[leader.name],
                                  run.leading_books(), regional=True)
    found += regional_violations(run.regional, run.history, run.checkers, run.strict_keys)
    return found


def history_digest(run: Run) -> str:
    """sha256 of every stored change (both tables' streams, in order) and every answer."""
    digest = hashlib.sha256()
    for role, region in ((role, region) for region in run.regions for role in ("orders",
                                                                               "trades")):
        for record in region.table(role).stream:
            digest.update(json.dumps([record.event, record.keys, record.new, record.transaction,
                                      round(record.at, 6)], sort_keys=True).encode())
    for answer in run.history.answers:
        digest.update(repr(answer).encode())
    return digest.hexdigest()
