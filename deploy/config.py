"""What the CDK app deploys: regions, symbols, sizes and names (docs/deploy.md, "Configuration").

Every value has a default, so `make synth` needs nothing; a real deployment overrides them with
CDK context (`-c key=value` on the cdk command line, or `deploy/cdk.json`). Pure: no aws_cdk
import, so the tests and the cost arithmetic in docs/deploy.md can read it directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ops import gate, metrics_export
from tulip.config import AWS_REGION_RE, parse_symbols

APP = "tulip"
# The SLO metrics the stack alarms on and charts (namespace TulipBroker, dimension Region).
# ops.metrics_export publishes the first seven; ReplicationLatency (ms, the lag between a write in
# the leader region and its arrival in a follower) comes with the multi-region work: its alarm and
# widget are deployed already and stay INSUFFICIENT_DATA until something publishes it.
SLO_NAMESPACE = metrics_export.CLOUDWATCH_NAMESPACE
REPLICATION_LATENCY = "ReplicationLatency"
SLO_METRICS: tuple[str, ...] = tuple(dict.fromkeys((*metrics_export.SLO_NAMES,
                                                     REPLICATION_LATENCY)))
SLO_UNITS: dict[str, str] = {**metrics_export.UNITS, REPLICATION_LATENCY: "Milliseconds"}


@dataclass(frozen=True, slots=True)
class Threshold:
    """An SLO alarm: breached when the metric's `statistic` over `period_s` is above `limit`
    for `evaluation_periods` periods in a row."""

    limit: float
    statistic: str = "Maximum"
    period_s: int = 60
    evaluation_periods: int = 3


# docs/rules.md ("Observability and service levels") sets p95 <= 250 ms, 5xx <= 1 % and zero double
# fills: the same limits the pipeline gate judges (ops/gate.py), imported from there. It sets none
# for the others; the limits below are this stack's (alerting, not gating): see docs/deploy.md.
# DoubleFillViolations is an invariant: one is an incident, on the first datapoint.
# The limits themselves are ops/gate.py's ALERT_LIMITS, shared with the ops console's dashboard.
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "Http5xxRate": Threshold(gate.ALERT_LIMITS["Http5xxRate"]),
    "LatencyP50": Threshold(gate.ALERT_LIMITS["LatencyP50"]),
    "LatencyP95": Threshold(gate.ALERT_LIMITS["LatencyP95"]),
    "LatencyP99": Threshold(gate.ALERT_LIMITS["LatencyP99"]),
    "EventLag": Threshold(gate.ALERT_LIMITS["EventLag"]),
    "WSDisconnectRate": Threshold(gate.ALERT_LIMITS["WSDisconnectRate"]),
    "DoubleFillViolations": Threshold(gate.ALERT_LIMITS["DoubleFillViolations"], evaluation_periods=1),
    REPLICATION_LATENCY: Threshold(gate.ALERT_LIMITS[REPLICATION_LATENCY]),
}


@dataclass(frozen=True, slots=True)
class Sizes:
    """Fargate sizes (vCPU units, MiB) and counts. The matcher runs at least two tasks: shard
    leases decide which one holds which symbol (docs/architecture.md, "Shard leases")."""

    web_count: int = 2
    web_cpu: int = 512
    web_memory: int = 1024
    matcher_count: int = 2
    matcher_cpu: int = 512
    matcher_memory: int = 1024
    worker_count: int = 1
    worker_cpu: int = 256
    worker_memory: int = 512
    projector_count: int = 1
    projector_cpu: int = 256
    projector_memory: int = 512
    cache_node_type: str = "cache.t4g.small"
    db_instance_class: str = "t4g.micro"
    db_allocated_gib: int = 20
    nat_gateways: int = 2
    max_azs: int = 2


@dataclass(frozen=True, slots=True)
class DeployConfig:
    regions: tuple[str, ...] = ("us-east-1", "us-west-2")  # the first is the leader region
    symbols: tuple[str, ...] = ("TULIP",)
    account: str | None = None  # None: environment-agnostic synth (resolved at deploy time)
    mrsc: bool = False  # multi-Region strong consistency for the global tables
    witness_region: str | None = None  # MRSC with two replica regions needs a witness
    domain_name: str = "tulip.example.com"
    hosted_zone_id: str = "Z00000000000000000000"
    api_subdomain: str = "api"
    lease_ttl_s: int = 5  # MATCHER_LEASE_TTL_S; also the events queues' visibility timeout
    dlq_max_receives: int = 10  # poison only: devstack/provision.py, DLQ_MAX_RECEIVE_COUNT
    fis_network_faults: bool = True  # SSM sidecar + enableFaultInjection for ECS network faults
    alarm_email: str | None = None
    sizes: Sizes = field(default_factory=Sizes)
    thresholds: Mapping[str, Threshold] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))

    def __post_init__(self) -> None:
        if not self.regions:
            raise ValueError("regions: at least one region")
        for region in (*self.regions, *([self.witness_region] if self.witness_region else [])):
            if not AWS_REGION_RE.match(region):
                raise ValueError(f"regions: not an AWS region name: {region!r}")
        if len(set(self.regions)) != len(self.regions):
            raise ValueError("regions: a region is listed twice")
        if self.mrsc:
            replicas = len(self.regions)
            if not ((replicas == 3 and self.witness_region is None)
                    or (replicas == 2 and self.witness_region not in (None, *self.regions))):
                raise ValueError("mrsc: needs exactly three regions, or two and a witnessRegion")
        elif self.witness_region is not None:
            raise ValueError("witnessRegion: only with mrsc")
        if self.sizes.matcher_count < 2:
            raise ValueError("sizes.matcher_count: at least 2 (leases decide who holds a shard)")
        if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", self.domain_name):
            raise ValueError(f"domainName: not a domain name: {self.domain_name!r}")
        missing = set(SLO_METRICS) - set(self.thresholds)
        if missing:
            raise ValueError(f"thresholds: no alarm threshold for {sorted(missing)}")

    @property
    def leader_region(self) -> str:
        return self.regions[0]

    @property
    def api_domain(self) -> str:
        return f"{self.api_subdomain}.{self.domain_name}"

    # ---------------------------------------------------------------- names (one place each)
    @property
    def orders_table(self) -> str:
        return f"{APP}-orders"

    @property
    def trades_table(self) -> str:
        return f"{APP}-trades"

    def table_name(self, role: str) -> str:
        return self.orders_table if role == "orders" else self.trades_table

    def events_queue(self, symbol: str) -> str:
        """The symbol's events FIFO queue (docs/architecture.md, "Routing")."""
        return f"{APP}-events-{symbol}.fifo"

    @property
    def events_queue_template(self) -> str:
        return f"{APP}-events-{{symbol}}.fifo"

    @property
    def events_dlq(self) -> str:
        return f"{APP}-events-dlq.fifo"

    @property
    def tasks_queue(self) -> str:
        return f"{APP}-tasks"

    @property
    def matching_control_queue(self) -> str:
        return "matching-control"

    @property
    def data_key_alias(self) -> str:
        """The customer-managed KMS key of every region, by alias (the global tables name each
        replica's key by this alias, so no cross-region reference is needed)."""
        return f"alias/{APP}-data"

    @property
    def cognito_parameter_prefix(self) -> str:
        """SSM parameters in the leader region naming the one user pool every region trusts."""
        return f"/{APP}/cognito"

    def stack_name(self, kind: str, region: str | None = None) -> str:
        suffix = "".join(part.capitalize() for part in (region or "").split("-"))
        return f"Tulip{kind}{suffix}"


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}: must be true or false, got {value!r}")


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value)
    return tuple(v.strip() for v in str(value).split(",") if v.strip())


def from_context(context: Mapping[str, Any]) -> DeployConfig:
    """DeployConfig from CDK context values (strings from `-c`, JSON values from cdk.json)."""
    defaults = DeployConfig()
    sizes = Sizes(**{key: type(getattr(Sizes(), key))(value)
                     for key, value in dict(context.get("sizes") or {}).items()})
    account = context.get("account")
    return DeployConfig(
        regions=_list(context["regions"]) if "regions" in context else defaults.regions,
        symbols=parse_symbols(",".join(_list(context["symbols"]))) if "symbols" in context
        else defaults.symbols,
        account=str(account) if account else None,
        mrsc=_bool(context.get("mrsc", False), "mrsc"),
        witness_region=str(context["witnessRegion"]) if context.get("witnessRegion") else None,
        domain_name=str(context.get("domainName", defaults.domain_name)),
        hosted_zone_id=str(context.get("hostedZoneId", defaults.hosted_zone_id)),
        fis_network_faults=_bool(context.get("fisNetworkFaults", True), "fisNetworkFaults"),
        alarm_email=str(context["alarmEmail"]) if context.get("alarmEmail") else None,
        sizes=sizes,
    )
