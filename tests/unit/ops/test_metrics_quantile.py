"""SLO values from cumulative histogram readings: Prometheus-style quantile interpolation over the
interval between two readings; no traffic -> no latency value (not a fake 0)."""

from ops.metrics_export import Counts, quantile, slo_values


def test_quantile_interpolates_inside_the_bucket():
    buckets = {0.1: 50.0, 0.2: 100.0, float("inf"): 100.0}
    assert quantile(buckets, 0.5) == 0.1
    assert abs(quantile(buckets, 0.95) - 0.19) < 1e-9
    assert quantile({0.1: 0.0, float("inf"): 0.0}, 0.5) is None


def test_interval_values():
    before = Counts(requests=100, errors_5xx=0, latency={0.1: 100.0, float("inf"): 100.0})
    now = Counts(requests=200, errors_5xx=2,
                 latency={0.1: 100.0, 0.5: 200.0, float("inf"): 200.0})
    values = slo_values(now, before)
    assert values["Http5xxRate"] == 2.0
    assert 100 < values["LatencyP50"] <= 500
    assert "LatencyP95" not in slo_values(before, before)
