"""TulipBroker metrics (namespace `TulipBroker`, docs/rules.md), shared by every process.

Recording functions are what the rest of the code calls; how they are exported (/metrics, the
CloudWatch publisher, multiprocess aggregation) is ops' concern (ops/metrics_export.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NAMESPACE = "tulipbroker"

HTTP_REQUESTS = Counter(f"{NAMESPACE}_http_requests_total", "HTTP responses by status class",
                        ["method", "status_class"])
HTTP_LATENCY = Histogram(
    f"{NAMESPACE}_http_request_seconds", "HTTP request latency",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
EVENT_LAG = Histogram(
    f"{NAMESPACE}_event_lag_seconds", "commit->publish and accept->match lag", ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
WS_DISCONNECTS = Counter(f"{NAMESPACE}_ws_disconnects_total", "WebSocket closes by reason",
                         ["reason"])
WS_CONNECTS = Counter(f"{NAMESPACE}_ws_connects_total", "WebSocket connections accepted")
DOUBLE_FILL_VIOLATIONS = Counter(f"{NAMESPACE}_double_fill_violations_total",
                                 "Orders whose fills exceed their quantity (must stay 0)")
MATCHER_BATCHES = Counter(f"{NAMESPACE}_matcher_batches_total", "Matcher batch outcomes",
                          ["symbol", "outcome"])
MATCHER_MESSAGES = Counter(f"{NAMESPACE}_matcher_messages_total", "Messages applied by the matcher",
                           ["symbol", "kind"])
POISON_MESSAGES = Counter(f"{NAMESPACE}_poison_messages_total",
                          "Unparseable or unknown-schema messages seen by the matcher", ["symbol"])
# Shard leases (docs/architecture.md, "Shard leases"). "liveall": one sample per live matcher
# process (a pid label), so /metrics shows which process holds how many shards.
MATCHER_SHARDS_HELD = Gauge(f"{NAMESPACE}_matcher_shards_held", "Shards this matcher process holds",
                            multiprocess_mode="liveall")
LEASE_RENEW_FAILURES = Counter(f"{NAMESPACE}_lease_renew_failures_total",
                               "Lease renewals refused (another process took the shard)", ["symbol"])
TAKEOVERS = Counter(f"{NAMESPACE}_shard_takeovers_total",
                    "Shards taken from another process whose lease ran out", ["symbol"])
TAKEOVER_SECONDS = Histogram(
    f"{NAMESPACE}_shard_takeover_seconds",
    "From the previous holder's last renewal to this process taking the shard",
    buckets=(0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0))


def observe_request(method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, f"{status // 100}xx").inc()
    HTTP_LATENCY.observe(seconds)


def observe_event_lag(stage: str, seconds: float) -> None:
    """stage: "commit_to_publish" or "accept_to_match"."""
    EVENT_LAG.labels(stage).observe(max(0.0, seconds))


# Set by `manage.py reconcile` (a short-lived process): "mostrecent" keeps its value in the
# multiprocess directory after it exits, so /metrics and the CloudWatch publisher still see it.
OPEN_DOUBLE_FILLS = Gauge(f"{NAMESPACE}_reconcile_double_fills", "Open double-fill findings of the "
                          "last reconciliation run", multiprocess_mode="mostrecent")
OPEN_FINDINGS = Gauge(f"{NAMESPACE}_reconcile_findings", "Open findings of the last reconciliation "
                      "run", multiprocess_mode="mostrecent")


def record_reconcile(double_fills: int, findings: int) -> None:
    if double_fills:
        DOUBLE_FILL_VIOLATIONS.inc(double_fills)
    OPEN_DOUBLE_FILLS.set(double_fills)
    OPEN_FINDINGS.set(findings)
