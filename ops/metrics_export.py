"""Exporting tulip.metrics: the /metrics text (aggregated across processes) and the SLO values in
namespace TulipBroker that go to CloudWatch and the admin's SLO panel. Django-free (the gate's
Lambda imports it).

Multiprocess: every process started with PROMETHEUS_MULTIPROC_DIR writes its samples to files in
that directory; MultiProcessCollector sums them, so the ASGI server, the Celery workers and the
commands all show up in one /metrics answer.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tulip import aws
from tulip.config import Config

CLOUDWATCH_NAMESPACE = "TulipBroker"
SLO_NAMES = ("Http5xxRate", "LatencyP50", "LatencyP95", "LatencyP99", "EventLag",
             "WSDisconnectRate", "DoubleFillViolations", "ReplicationLatency")
UNITS = {"Http5xxRate": "Percent", "LatencyP50": "Milliseconds", "LatencyP95": "Milliseconds",
         "LatencyP99": "Milliseconds", "EventLag": "Milliseconds", "WSDisconnectRate": "Percent",
         "DoubleFillViolations": "Count", "ReplicationLatency": "Milliseconds"}
P = "tulipbroker"


def registry() -> Any:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        collected = CollectorRegistry()
        MultiProcessCollector(collected, path=directory)  # type: ignore[no-untyped-call]
        return collected
    return REGISTRY


def render() -> bytes:
    data: bytes = generate_latest(registry())
    return data


@dataclass
class Counts:
    """Cumulative values read from the registry; SLOs are computed over the difference of two."""

    requests: float = 0.0
    errors_5xx: float = 0.0
    latency: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    lag: dict[float, float] = field(default_factory=dict)
    ws_connects: float = 0.0
    ws_disconnects: float = 0.0
    double_fills: float = 0.0  # counter of detections
    open_double_fills: float = 0.0  # gauge from the last reconcile
    replication_s: float | None = None  # the replicator's worst pair now (a gauge); None: none


def read_counts(source: Any = None) -> Counts:
    counts = Counts()
    for family in (source or registry()).collect():
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name == f"{P}_http_requests_total":
                counts.requests += value
                if labels.get("status_class") == "5xx":
                    counts.errors_5xx += value
            elif name == f"{P}_http_request_seconds_bucket":
                le = float(labels["le"])
                counts.latency[le] = counts.latency.get(le, 0.0) + value
            elif name == f"{P}_event_lag_seconds_bucket":
                le = float(labels["le"])
                counts.lag[le] = counts.lag.get(le, 0.0) + value
            elif name == f"{P}_ws_connects_total":
                counts.ws_connects += value
            elif name == f"{P}_ws_disconnects_total":
                counts.ws_disconnects += value
            elif name == f"{P}_double_fill_violations_total":
                counts.double_fills += value
            elif name == f"{P}_reconcile_double_fills":
                counts.open_double_fills = max(counts.open_double_fills, value)
            elif name == f"{P}_replication_latency_seconds":
                counts.replication_s = max(counts.replication_s or 0.0, value)
    return counts


def quantile(buckets: Mapping[float, float], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding rank q."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    previous_le, previous_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return previous_le  # beyond the last finite bucket: its bound is all we know
            width = count - previous_count
            fraction = (rank - previous_count) / width if width else 1.0
            return previous_le + (le - previous_le) * fraction
        previous_le, previous_count = le, count
    return previous_le


def _delta(now: Mapping[float, float], before: Mapping[float, float]) -> dict[float, float]:
    return {le: max(0.0, value - before.get(le, 0.0)) for le, value in now.items()}


def slo_values(now: Counts, before: Counts | None = None) -> dict[str, float]:
    """The TulipBroker SLO metrics over the interval between two readings (since process start
    when `before` is None). A value with no traffic behind it is left out, not reported as 0."""
    before = before or Counts()
    values: dict[str, float] = {}
    requests = now.requests - before.requests
    if requests > 0:
        values["Http5xxRate"] = 100.0 * (now.errors_5xx - before.errors_5xx) / requests
        latency = _delta(now.latency, before.latency)
        for name, q in (("LatencyP50", 0.5), ("LatencyP95", 0.95), ("LatencyP99", 0.99)):
            seconds = quantile(latency, q)
            if seconds is not None:
                values[name] = round(seconds * 1000, 3)
    lag = quantile(_delta(now.lag, before.lag), 0.95)
    if lag is not None:
        values["EventLag"] = round(lag * 1000, 3)
    connects = now.ws_connects - before.ws_connects
    if connects > 0:
        values["WSDisconnectRate"] = 100.0 * (now.ws_disconnects - before.ws_disconnects) / connects
    values["DoubleFillViolations"] = max(now.open_double_fills,
                                         now.double_fills - before.double_fills)
    if now.replication_s is not None:  # only where the (simulated) Global Tables replicate
        values["ReplicationLatency"] = round(now.replication_s * 1000, 3)
    return values


def put_cloudwatch(cfg: Config, values: Mapping[str, float], dimensions: Mapping[str, str]) -> None:
    dims = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]
    data = [{"MetricName": name, "Value": float(value), "Unit": UNITS.get(name, "None"),
             "Dimensions": dims} for name, value in sorted(values.items())]
    client: Any = aws.client("cloudwatch", cfg)
    for start in range(0, len(data), 20):  # PutMetricData: ≤ 20 datums per call (older limit)
        client.put_metric_data(Namespace=CLOUDWATCH_NAMESPACE, MetricData=data[start:start + 20])


def read_cloudwatch(cfg: Config, window_s: int, dimensions: Mapping[str, str]) -> dict[str, float]:
    """Worst value of each SLO metric over the window (Maximum), as the gate judges it."""
    end = datetime.now(UTC) + timedelta(seconds=60)  # datapoints stamped a moment ahead count
    start = end - timedelta(seconds=window_s + 60)
    dims = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]
    queries = [{"Id": f"m{i}", "MetricStat": {
        "Metric": {"Namespace": CLOUDWATCH_NAMESPACE, "MetricName": name, "Dimensions": dims},
        "Period": 60, "Stat": "Maximum"}, "ReturnData": True} for i, name in enumerate(SLO_NAMES)]
    client: Any = aws.client("cloudwatch", cfg)
    response = client.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    found: dict[str, float] = {}
    for result in response.get("MetricDataResults", []):
        name = SLO_NAMES[int(result["Id"][1:])]
        if result.get("Values"):
            found[name] = max(float(v) for v in result["Values"])
    return found


def dimensions(cfg: Config) -> dict[str, str]:
    return {"Region": cfg.aws_region}
