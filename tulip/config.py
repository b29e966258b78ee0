"""Configuration from the environment (README "Configuration"), parsed and validated once at start.

Pure: no Django import, so the launcher, manage.py, the ASGI app and the Celery worker all share it.
A bad value raises ConfigError naming the variable; the callers turn that into one line on stderr
and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ENVIRONMENTS = ("local", "test", "production")
REGION_ROLES = ("leader", "follower")
MATCHERS = ("simfill", "book")
SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9]{0,11}$")
SYMBOL_PLACEHOLDER = "{symbol}"
AWS_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
AWS_ZONE_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
# Flags that exist to break things on purpose; a production process refuses to start with them on.
TEST_ONLY_FLAGS = ("injectLatencyMs",)
MAX_INJECTED_LATENCY_MS = 60_000


class ConfigError(Exception):
    """One bad variable. str() is the single line printed before exiting."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"configuration error: {variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class FeatureFlags:
    inject_latency_ms: int = 0
    force_leader: str | None = None
    deny_writes: bool = False
    # A follower that cannot reach the leader accepts orders into its own region, answering 201
    # with "provisional": true (reconciled after the heal) instead of 503.
    accept_when_leader_down: bool = False

    def as_contract(self) -> dict[str, object]:
        """The camelCase shape of FEATURE_FLAGS (docs/api.md), for /readyz and the admin."""
        return {
            "injectLatencyMs": self.inject_latency_ms,
            "forceLeader": self.force_leader,
            "denyWrites": self.deny_writes,
            "acceptWhenLeaderDown": self.accept_when_leader_down,
        }


@dataclass(frozen=True, slots=True)
class Config:
    environment: str
    secret_key: str
    debug: bool
    allowed_hosts: tuple[str, ...]
    orders_table: str
    trades_table: str
    events_fifo_url: str
    events_dlq_url: str
    celery_queue_url: str
    matching_control_queue_url: str
    region_role: str
    leader_region: str
    feature_flags: FeatureFlags
    aws_region: str
    availability_zone: str | None  # recorded on orders (acceptedAz) and trades (fillAz)
    aws_endpoint_url: str | None
    cognito_user_pool_id: str
    cognito_app_client_id: str
    cognito_jwks_url: str
    cognito_issuer: str
    redis_url: str
    redis_key_prefix: str
    database_url: str | None
    symbols: tuple[str, ...]
    matcher: str
    matcher_commit: str
    port: int
    reports_bucket: str
    log_level: str
    sweeper_interval_s: float
    sweeper_min_age_s: float
    matcher_lease_ttl_s: float = 5.0
    matcher_max_shards: int = 1000
    matcher_receive_wait_s: int = 1
    # Regions (docs/architecture.md, "Regions"): every region of the deployment, each one's base
    # URL (TULIP_URL_<REGION>), how writes replicate, and the health monitor's clocks.
    regions: tuple[str, ...] = ()
    region_urls: Mapping[str, str] = field(default_factory=dict)
    replication: str = "async"
    step_down_after_s: int = 3
    failover_after_s: int = 6
    state_dir: str = ".tulip"  # the local stack's files (TULIP_STATE_DIR): logs, drills
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_local_aws(self) -> bool:
        return self.aws_endpoint_url is not None

    @property
    def default_symbol(self) -> str:
        return self.symbols[0]

    @property
    def peer_regions(self) -> tuple[str, ...]:
        return tuple(r for r in self.regions if r != self.aws_region)

    @property
    def cognito_region(self) -> str:
        """The user pool's own region (its id starts with it): one pool serves every region."""
        prefix = self.cognito_user_pool_id.partition("_")[0]
        return prefix if AWS_REGION_RE.match(prefix) else self.aws_region

    def events_queue_url(self, symbol: str) -> str:
        """The symbol's own events FIFO queue: EVENTS_FIFO_URL names one queue per symbol through
        its `{symbol}` placeholder, so a shard's messages reach only the process holding it
        (docs/architecture.md, "Routing")."""
        return self.events_fifo_url.replace(SYMBOL_PLACEHOLDER, symbol)


def env_file_name(region: str, regions: Sequence[str]) -> str:
    """The local stack's configuration file for `region`: `local.env` for the first region (the
    one a bare `manage.py` talks to), `local.<region>.env` for the others."""
    return "local.env" if region == regions[0] else f"local.{region}.env"


def local_env_path(state_dir: Path, env: Mapping[str, str]) -> Path:
    """Which of the launcher's files a local process reads: the one of the region AWS_REGION
    names, when the launcher wrote one, else the first region's."""
    region = env.get("AWS_REGION", "").strip()
    regional = state_dir / f"local.{region}.env"
    return regional if region and regional.is_file() else state_dir / "local.env"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as written by the launcher; blank lines and # comments ignored."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, default).strip()
    if value not in choices:
        raise ConfigError(name, f"must be one of {'|'.join(choices)}, got {value!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(name, f"must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}, got {value}")
    return value


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...], required: bool) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        if required:
            raise ConfigError(name, "is required")
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise ConfigError(name, f"must be a {'|'.join(schemes)} URL, got {raw!r}")
    return raw


def _name(env: Mapping[str, str], name: str, default: str, required: bool) -> str:
    value = env.get(name, "").strip()
    if not value:
        if required:
            raise ConfigError(name, "is required")
        return default
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", value):
        raise ConfigError(name, f"is not a valid name: {value!r}")
    return value


def parse_feature_flags(raw: str | None, environment: str) -> FeatureFlags:
    if raw is None or raw.strip() == "":
        return FeatureFlags()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError("FEATURE_FLAGS", "must be a JSON object") from None
    if not isinstance(data, dict):
        raise ConfigError("FEATURE_FLAGS", "must be a JSON object")
    unknown = sorted(set(data) - {"injectLatencyMs", "forceLeader", "denyWrites",
                                  "acceptWhenLeaderDown"})
    if unknown:
        raise ConfigError("FEATURE_FLAGS", f"unknown flag(s): {', '.join(unknown)}")
    latency = data.get("injectLatencyMs", 0)
    if isinstance(latency, bool) or not isinstance(latency, int):
        raise ConfigError("FEATURE_FLAGS", "injectLatencyMs must be an integer")
    if not 0 <= latency <= MAX_INJECTED_LATENCY_MS:
        raise ConfigError("FEATURE_FLAGS", f"injectLatencyMs must be 0..{MAX_INJECTED_LATENCY_MS}")
    force_leader = data.get("forceLeader")
    if force_leader is not None and (
        not isinstance(force_leader, str) or not AWS_REGION_RE.match(force_leader)
    ):
        raise ConfigError("FEATURE_FLAGS", "forceLeader must be null or an AWS region name")
    deny_writes = data.get("denyWrites", False)
    if not isinstance(deny_writes, bool):
        raise ConfigError("FEATURE_FLAGS", "denyWrites must be true or false")
    accept_provisional = data.get("acceptWhenLeaderDown", False)
    if not isinstance(accept_provisional, bool):
        raise ConfigError("FEATURE_FLAGS", "acceptWhenLeaderDown must be true or false")
    flags = FeatureFlags(latency, force_leader, deny_writes, accept_provisional)
    if environment == "production":
        for flag in TEST_ONLY_FLAGS:
            if flag == "injectLatencyMs" and flags.inject_latency_ms:
                raise ConfigError("FEATURE_FLAGS", f"{flag} is test-only and refused in production")
    return flags


def parse_symbols(raw: str | None) -> tuple[str, ...]:
    if raw is None or raw.strip() == "":
        return ("TULIP",)
    symbols = tuple(s.strip() for s in raw.split(","))
    for symbol in symbols:
        if not SYMBOL_RE.match(symbol):
            raise ConfigError("TULIP_SYMBOLS", f"bad symbol {symbol!r} (A-Z, 0-9, 1-12 chars)")
    if len(set(symbols)) != len(symbols):
        raise ConfigError("TULIP_SYMBOLS", "lists a symbol twice")
    return symbols


@dataclass(frozen=True, slots=True)
class _Aws:
    region: str
    zone: str | None
    endpoint: str | None


def _aws(env: Mapping[str, str], production: bool) -> _Aws:
    region = env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip()
    region = region or "us-east-1"
    if not AWS_REGION_RE.match(region):
        raise ConfigError("AWS_REGION", f"is not an AWS region name: {region!r}")
    endpoint = _url(env, "AWS_ENDPOINT_URL", ("http", "https"), required=False)
    if production and endpoint:
        raise ConfigError("AWS_ENDPOINT_URL", "must not be set in production (local stand-in only)")
    # The zone this process runs in: the local stack names one; on AWS the container's start
    # script reads it from the task metadata. Unset, acceptedAz/fillAz are simply not recorded.
    zone = env.get("AVAILABILITY_ZONE", "").strip() or None
    if zone is not None and not (AWS_ZONE_RE.match(zone) and zone[:-1] == region):
        raise ConfigError("AVAILABILITY_ZONE", f"is not a zone of {region}: {zone!r}")
    return _Aws(region, zone, endpoint)


@dataclass(frozen=True, slots=True)
class _Cognito:
    pool_id: str
    app_client_id: str
    jwks_url: str
    issuer: str


def _cognito(env: Mapping[str, str], aws: _Aws, production: bool) -> _Cognito:
    pool_id = env.get("COGNITO_USER_POOL_ID", "").strip()
    if production and not pool_id:
        raise ConfigError("COGNITO_USER_POOL_ID", "is required in production")
    if pool_id and not re.fullmatch(r"[\w-]+_[0-9A-Za-z]+", pool_id):
        raise ConfigError("COGNITO_USER_POOL_ID", f"is not a user pool id: {pool_id!r}")
    app_client_id = env.get("COGNITO_APP_CLIENT_ID", "").strip()
    if production and not app_client_id:
        raise ConfigError("COGNITO_APP_CLIENT_ID", "is required in production")
    jwks_url = _url(env, "COGNITO_JWKS_URL", ("http", "https"), required=False)
    # The pool's own region (its id starts with it): one pool serves every region.
    pool_region = pool_id.partition("_")[0] if AWS_REGION_RE.match(
        pool_id.partition("_")[0]) else aws.region
    if not jwks_url and pool_id:
        base = (aws.endpoint.rstrip("/") if aws.endpoint
                else f"https://cognito-idp.{pool_region}.amazonaws.com")
        jwks_url = f"{base}/{pool_id}/.well-known/jwks.json"
    issuer = env.get("COGNITO_ISSUER", "").strip() or (
        f"https://cognito-idp.{pool_region}.amazonaws.com/{pool_id}" if pool_id else ""
    )
    return _Cognito(pool_id, app_client_id, jwks_url or "", issuer)


def _secret_key(env: Mapping[str, str], production: bool) -> str:
    secret_key = env.get("DJANGO_SECRET_KEY", "").strip()
    if not secret_key:
        if production:
            raise ConfigError("DJANGO_SECRET_KEY", "is required in production")
        return "tulip-local-not-secret"  # local/test only, never production
    if production and len(secret_key) < 32:
        raise ConfigError("DJANGO_SECRET_KEY", "must be at least 32 characters in production")
    return secret_key


def _allowed_hosts(env: Mapping[str, str], production: bool) -> tuple[str, ...]:
    allowed = env.get("DJANGO_ALLOWED_HOSTS", "").strip()
    allowed_hosts = tuple(h.strip() for h in allowed.split(",") if h.strip()) or (
        ("127.0.0.1", "localhost", "[::1]", "testserver") if not production else ()
    )
    if production and not allowed_hosts:
        raise ConfigError("DJANGO_ALLOWED_HOSTS", "is required in production")
    return allowed_hosts


def _events_fifo_url(env: Mapping[str, str], production: bool) -> str:
    url = _url(env, "EVENTS_FIFO_URL", ("http", "https"), production) or ""
    if url and SYMBOL_PLACEHOLDER not in url:
        raise ConfigError("EVENTS_FIFO_URL", f"must name one queue per symbol with "
                                             f"{SYMBOL_PLACEHOLDER}, got {url!r}")
    return url


def region_url_variable(region: str) -> str:
    """TULIP_URL_US_WEST_2 for us-west-2: where that region's HTTP API answers."""
    return "TULIP_URL_" + region.upper().replace("-", "_")


@dataclass(frozen=True, slots=True)
class _Regions:
    regions: tuple[str, ...]
    urls: dict[str, str]
    replication: str
    step_down_after_s: int
    failover_after_s: int


def _regions(env: Mapping[str, str], aws: _Aws) -> _Regions:
    raw = env.get("TULIP_REGIONS", "").strip()
    regions = tuple(r.strip() for r in raw.split(",") if r.strip()) or (aws.region,)
    for region in regions:
        if not AWS_REGION_RE.match(region):
            raise ConfigError("TULIP_REGIONS", f"is not an AWS region name: {region!r}")
    if aws.region not in regions or len(set(regions)) != len(regions):
        raise ConfigError("TULIP_REGIONS", f"must list {aws.region} (AWS_REGION) once each")
    urls = {}
    for region in regions:
        url = _url(env, region_url_variable(region), ("http", "https"), required=False)
        if url:
            urls[region] = url.rstrip("/")
    step_down = _int(env, "STEP_DOWN_AFTER_S", 3, 1, 600)
    failover = _int(env, "FAILOVER_AFTER_S", 6, 2, 3600)
    if failover <= step_down:
        # A follower may take over only once an isolated leader has surely stopped writing.
        raise ConfigError("FAILOVER_AFTER_S", f"must exceed STEP_DOWN_AFTER_S ({step_down})")
    return _Regions(regions, urls, _choice(env, "REPLICATION", ("async", "sync"), "async"),
                    step_down, failover)


def _log_level(env: Mapping[str, str]) -> str:
    log_level = env.get("LOG_LEVEL", "INFO").strip().upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("LOG_LEVEL", f"must be DEBUG|INFO|WARNING|ERROR, got {log_level!r}")
    return log_level


def load_config(env: Mapping[str, str]) -> Config:
    """Parse and validate. Locally every AWS name has a default matching the launcher's."""
    environment = _choice(env, "TULIP_ENV", ENVIRONMENTS, "local")
    production = environment == "production"
    aws = _aws(env, production)
    cognito = _cognito(env, aws, production)
    topology = _regions(env, aws)
    leader_region = env.get("LEADER_REGION", "").strip() or aws.region
    if not AWS_REGION_RE.match(leader_region):
        raise ConfigError("LEADER_REGION", f"is not an AWS region name: {leader_region!r}")
    redis_url = _url(env, "REDIS_URL", ("redis", "rediss", "unix"), required=production)
    return Config(
        environment=environment,
        secret_key=_secret_key(env, production),
        debug=_bool(env, "DJANGO_DEBUG", False),
        allowed_hosts=_allowed_hosts(env, production),
        orders_table=_name(env, "ORDERS_TABLE", "tulip-orders", production),
        trades_table=_name(env, "TRADES_TABLE", "tulip-trades", production),
        events_fifo_url=_events_fifo_url(env, production),
        events_dlq_url=_url(env, "EVENTS_DLQ_URL", ("http", "https"), False) or "",
        celery_queue_url=_url(env, "CELERY_QUEUE_URL", ("http", "https"), False) or "",
        matching_control_queue_url=_url(env, "MATCHING_CONTROL_QUEUE_URL", ("http", "https"),
                                        False) or "",
        region_role=_choice(env, "REGION_ROLE", REGION_ROLES, "leader"),
        leader_region=leader_region,
        feature_flags=parse_feature_flags(env.get("FEATURE_FLAGS"), environment),
        aws_region=aws.region,
        availability_zone=aws.zone,
        aws_endpoint_url=aws.endpoint,
        cognito_user_pool_id=cognito.pool_id,
        cognito_app_client_id=cognito.app_client_id,
        cognito_jwks_url=cognito.jwks_url,
        cognito_issuer=cognito.issuer,
        redis_url=redis_url or "redis://127.0.0.1:6379/0",
        redis_key_prefix=_name(env, "REDIS_KEY_PREFIX", "tulip", required=False),
        database_url=_url(env, "DATABASE_URL", ("postgres", "postgresql", "sqlite", "pgsql"),
                          required=False),
        symbols=parse_symbols(env.get("TULIP_SYMBOLS")),
        matcher=_choice(env, "MATCHER", MATCHERS, "book"),
        # per_message exists to measure group commit against (make bench-pipeline).
        matcher_commit=_choice(env, "MATCHER_COMMIT", ("group", "per_message"), "group"),
        port=_int(env, "PORT", 8000, 1, 65535),
        reports_bucket=_name(env, "REPORTS_BUCKET", "tulip-reports", required=False),
        log_level=_log_level(env),
        sweeper_interval_s=_int(env, "SWEEPER_INTERVAL_S", 5, 1, 3600),
        sweeper_min_age_s=_int(env, "SWEEPER_MIN_AGE_S", 5, 1, 3600),
        matcher_lease_ttl_s=_int(env, "MATCHER_LEASE_TTL_S", 5, 2, 300),
        matcher_max_shards=_int(env, "MATCHER_MAX_SHARDS", 1000, 1, 100_000),
        matcher_receive_wait_s=_int(env, "MATCHER_RECEIVE_WAIT_S", 1, 1, 20),
        regions=topology.regions,
        region_urls=topology.urls,
        replication=topology.replication,
        step_down_after_s=topology.step_down_after_s,
        failover_after_s=topology.failover_after_s,
        state_dir=env.get("TULIP_STATE_DIR", "").strip() or ".tulip",
    )
