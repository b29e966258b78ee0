"""The pipeline gate (docs/rules.md, service levels): the assertion Step Functions runs as a Lambda
after the smoke and chaos suites, also `manage.py gate`. Django-free so the Lambda needs only config + AWS.

pass only when: p95 HTTP ≤ 250 ms, 5xx rate ≤ 1 %, zero double fills, zero seq gaps (a fresh
reconciliation against DynamoDB, not a cached one). A metric the gate judges that has no value in
the window (no traffic, a publisher that never ran, CloudWatch unreadable and no local registry)
fails the gate, naming the metric: absence of evidence is not a pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ops import checks, metrics_export
from ops.ledger import take_snapshot
from tulip.config import Config

P95_MAX_MS = 250.0
ERROR_RATE_MAX_PCT = 1.0
# Every TulipBroker SLO metric's limit (ops/metrics_export.py SLO_NAMES): the gate judges the first
# three (docs/rules.md sets them); the others are alerting limits, not gating ones. The deploy's
# CloudWatch alarms (deploy/config.py) and the ops console's SLO dashboard and chaos stop
# conditions (ops/chaos.py) all take them from here.
ALERT_LIMITS: dict[str, float] = {
    "Http5xxRate": ERROR_RATE_MAX_PCT,
    "LatencyP95": P95_MAX_MS,
    "DoubleFillViolations": 0.0,
    "LatencyP50": 100.0,
    "LatencyP99": 1000.0,
    "EventLag": 1000.0,
    "WSDisconnectRate": 5.0,
    "ReplicationLatency": 2000.0,
}
# The metrics evaluate() judges against the limits above: each one must have a value in the window,
# or the gate fails naming it (a quiet or unreadable source is not a healthy one).
REQUIRED_METRICS = ("LatencyP95", "Http5xxRate")
DEFAULT_WINDOW_S = 300
# The gate judges the ledger, not the matcher's progress: an order accepted a moment ago and not
# yet matched is not a failure, one stuck for this long is reported (but does not fail the gate).
GATE_UNSEEN_AGE_S = 120.0


def read_metrics(cfg: Config, window_s: int) -> tuple[dict[str, float], str]:
    """CloudWatch first (what the deployed gate sees); locally, when nothing was published in the
    window, the live multiprocess registry (cumulative since the processes started)."""
    dims = metrics_export.dimensions(cfg)
    try:
        values = metrics_export.read_cloudwatch(cfg, window_s, dims)
    except Exception as exc:  # an unreadable CloudWatch is reported, then the local fallback
        values, source = {}, f"cloudwatch unreadable ({type(exc).__name__})"
    else:
        source = "cloudwatch"
    if not values:
        values = metrics_export.slo_values(metrics_export.read_counts())
        source = ("cloudwatch (nothing in the window), then the local registry"
                  if source == "cloudwatch" else f"{source}, then the local registry")
    return values, source


def ledger_counts(cfg: Config, symbols: tuple[str, ...] = ()) -> dict[str, int]:
    snapshot = take_snapshot(cfg, symbols or None, None, GATE_UNSEEN_AGE_S)
    findings, _resolved = checks.check(snapshot, GATE_UNSEEN_AGE_S)
    return checks.summarize(findings)


def evaluate(cfg: Config, window_s: int = DEFAULT_WINDOW_S,
             metrics: Mapping[str, float] | None = None,
             ledger: Mapping[str, int] | None = None,
             symbols: tuple[str, ...] = ()) -> dict[str, Any]:
    """{"pass": True} or {"pass": False, "reasons": [...]}; `metrics`/`ledger` are injectable for
    tests and for callers that already hold them. A required metric that is absent (or NaN) is a
    reason of its own: the gate never passes on metrics it could not read."""
    source = "the caller"
    if metrics is None:
        metrics, source = read_metrics(cfg, window_s)
    if ledger is None:
        ledger = ledger_counts(cfg, symbols)
    reasons: list[str] = []
    present: dict[str, float] = {}
    for name in REQUIRED_METRICS:
        value = metrics.get(name)
        if value is None or math.isnan(value):
            reasons.append(f"{name} missing: no value in the {window_s} s window; read from "
                           f"{source}")
        else:
            present[name] = float(value)
    p95 = present.get("LatencyP95")
    if p95 is not None and p95 > P95_MAX_MS:
        reasons.append(f"LatencyP95 {p95:.1f} ms > {P95_MAX_MS:.0f} ms")
    error_rate = present.get("Http5xxRate")
    if error_rate is not None and error_rate > ERROR_RATE_MAX_PCT:
        reasons.append(f"Http5xxRate {error_rate:.2f} % > {ERROR_RATE_MAX_PCT:.0f} %")
    doubles = int(ledger.get(checks.DOUBLE_FILL, 0))
    if doubles:
        reasons.append(f"DoubleFillViolations {doubles} > 0 (fresh reconcile)")
    gaps = int(ledger.get(checks.SEQ_GAP, 0)) + int(ledger.get(checks.SEQ_AHEAD, 0))
    if gaps:
        reasons.append(f"seq gaps {gaps} > 0 (fresh reconcile)")
    if reasons:
        return {"pass": False, "reasons": reasons}
    return {"pass": True}
