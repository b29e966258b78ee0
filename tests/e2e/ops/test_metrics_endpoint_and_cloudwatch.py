"""Metrics: GET /metrics serves the TulipBroker families aggregated across processes (the HTTP
server's requests counted in its own process show up); publish_metrics puts the SLO metrics into
the local CloudWatch, where list_metrics/get_metric_data find them."""

import datetime as dt
import json

from tests.e2e.ops.conftest import manage


def test_metrics_on_endpoint_and_in_cloudwatch(console_stack):
    with console_stack.http() as http:
        for _ in range(5):
            assert http.get("/healthz").status_code == 200
        text = http.get("/metrics").text
    assert 'tulipbroker_http_requests_total{method="GET",status_class="2xx"}' in text
    assert "tulipbroker_http_request_seconds_bucket" in text

    published = manage(console_stack, "publish_metrics")
    assert published.returncode == 0, published.stderr
    values = json.loads(published.stdout.strip().splitlines()[-1])
    assert {"Http5xxRate", "LatencyP95", "DoubleFillViolations"} <= set(values)

    cloudwatch = console_stack.boto("cloudwatch")
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="TulipBroker")["Metrics"]}
    assert {"Http5xxRate", "LatencyP50", "LatencyP95", "LatencyP99",
            "DoubleFillViolations"} <= names
    now = dt.datetime.now(dt.UTC)
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "p95", "MetricStat": {"Metric": {
            "Namespace": "TulipBroker", "MetricName": "LatencyP95",
            "Dimensions": [{"Name": "Region", "Value": "us-east-1"}]},
            "Period": 60, "Stat": "Maximum"}}],
        StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=1))
    assert data["MetricDataResults"][0]["Values"], data
